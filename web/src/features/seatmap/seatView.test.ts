import { describe, expect, it } from 'vitest';
import { reduceSeatMap, type Seat, type SeatMapBody, type SeatMapState } from './seatMapState';
import { categoryLegend, legendMarks, presentSeat, safeColor, seatContext, sectionGroups } from './seatView';

const CATS = [
  { id: 1, name: 'Premium', price: 15000, color: '#b03a2e' },
  { id: 2, name: 'Standard', price: 8000, color: '#1f618d' },
];
const SECTIONS = [
  { id: 1, name: 'Stalls' },
  { id: 2, name: 'Balcony' },
];

function seat(id: number, r: number, c: number, extra: Partial<Seat> = {}): Seat {
  return { id, r, c, label: `${String.fromCharCode(65 + r)}${c + 1}`, price: 15000, status: 'AVAILABLE', ...extra };
}

function state(body: Partial<SeatMapBody> & { seats: Seat[] }): SeatMapState {
  return reduceSeatMap(null, { type: 'snapshot', from: 'fetch', body: { eventId: 9, rows: 4, cols: 3, version: 1, ...body } })!;
}

describe('category legend', () => {
  it('lists_categories_in_server_order_with_formatted_price_and_seats_left', () => {
    const seats = [seat(0, 0, 0, { category: 1 }), seat(1, 0, 1, { category: 1, status: 'SOLD' }), seat(2, 1, 0, { category: 2 })];
    expect(categoryLegend(CATS, seats)).toEqual([
      { id: 1, name: 'Premium', price: '€150.00', color: '#b03a2e', available: 1 },
      { id: 2, name: 'Standard', price: '€80.00', color: '#1f618d', available: 1 },
    ]);
  });

  it('is_empty_for_an_event_without_categories', () => {
    expect(categoryLegend([], [seat(0, 0, 0)])).toEqual([]);
  });

  it('never_passes_a_colour_that_is_not_a_hex_colour', () => {
    expect(safeColor('#ABC')).toBe('#abc');
    expect(safeColor('#b03a2e')).toBe('#b03a2e');
    expect(safeColor('red; background: url(x)')).toBeNull();
    expect(safeColor('#12345')).toBeNull();
    expect(safeColor(7)).toBeNull();
    expect(categoryLegend([{ id: 3, name: 'X', price: 100, color: 'url(evil)' }], [])[0].color).toBeNull();
  });

  it('marks_only_what_the_map_has', () => {
    expect(legendMarks([seat(0, 0, 0)])).toEqual({ accessible: false, companion: false, blocked: false });
    expect(legendMarks([seat(0, 0, 0, { accessible: true }), seat(1, 0, 1, { companion: true, status: 'BLOCKED' })])).toEqual({
      accessible: true,
      companion: true,
      blocked: true,
    });
  });
});

describe('seat presentation', () => {
  const ctx = seatContext({ categories: CATS, sections: SECTIONS });

  it('a_demo_seat_keeps_todays_classes_and_label', () => {
    const p = presentSeat(seat(0, 0, 0, { price: 12000 }), 'available', false, seatContext({ categories: [], sections: [] }));
    expect(p.className).toBe('seat seat--available');
    expect(p.color).toBeNull();
    expect(p.mark).toBe('');
    expect(p.clickable).toBe(true);
    expect(p.ariaLabel).toBe('Seat A1, €120.00, available. Press to hold.');
  });

  it('a_free_seat_of_a_category_is_painted_in_its_colour_and_named', () => {
    const p = presentSeat(seat(0, 0, 0, { category: 1, section: 1 }), 'available', false, ctx);
    expect(p.className).toBe('seat seat--available seat--cat');
    expect(p.color).toBe('#b03a2e');
    expect(p.ariaLabel).toBe('Seat A1, Stalls, Premium, €150.00, available. Press to hold.');
  });

  it('a_taken_seat_shows_its_state_not_its_category_colour', () => {
    const p = presentSeat(seat(0, 0, 0, { category: 1 }), 'held', false, ctx);
    expect(p.color).toBeNull();
    expect(p.className).toBe('seat seat--held');
    expect(p.clickable).toBe(false);
  });

  it('accessible_and_companion_seats_are_marked_and_said', () => {
    const a = presentSeat(seat(0, 0, 0, { accessible: true }), 'available', false, ctx);
    expect(a.className).toContain('seat--accessible');
    expect(a.mark).toBe('\u267F');
    expect(a.ariaLabel).toContain('wheelchair space');
    const c = presentSeat(seat(1, 0, 1, { companion: true }), 'mine', false, ctx);
    expect(c.className).toContain('seat--companion');
    expect(c.mark).toBe('+');
    expect(c.ariaLabel).toBe('Seat A2, €150.00, companion seat, held by you. Press to release.');
  });

  it('a_blocked_seat_is_never_selectable', () => {
    const p = presentSeat(seat(0, 0, 0, { status: 'BLOCKED', category: 1 }), 'blocked', false, ctx);
    expect(p.className).toBe('seat seat--blocked');
    expect(p.clickable).toBe(false);
    expect(p.ariaLabel).toBe('Seat A1, Premium, €150.00, not on sale.');
  });

  it('outside_the_sale_window_nothing_is_selectable', () => {
    const p = presentSeat(seat(0, 0, 0), 'available', false, ctx, false);
    expect(p.clickable).toBe(false);
    expect(p.ariaLabel).toBe('Seat A1, €150.00, available.');
  });
});

describe('sections', () => {
  it('an_event_without_sections_is_one_group_without_a_heading', () => {
    const groups = sectionGroups(state({ seats: [seat(1, 0, 1), seat(0, 0, 0), seat(3, 1, 0)] }));
    expect(groups).toHaveLength(1);
    expect(groups[0].section).toBeNull();
    expect(groups[0].seats.map((s) => s.id)).toEqual([0, 1, 3]);
    expect(groups[0].rowCount).toBe(2);
  });

  it('seats_are_grouped_in_the_servers_order_of_sections_each_from_its_first_row', () => {
    const s = state({
      sections: SECTIONS,
      seats: [seat(9, 3, 0, { section: 2 }), seat(0, 0, 0, { section: 1 }), seat(6, 2, 0, { section: 2 }), seat(3, 1, 0, { section: 1 }), seat(10, 3, 1)],
    });
    const groups = sectionGroups(s);
    expect(groups.map((g) => g.section?.name)).toEqual(['Stalls', 'Balcony', 'Other seats']);
    expect(groups[1].seats.map((x) => x.id)).toEqual([6, 9]);
    expect(groups[1].firstRow).toBe(2);
    expect(groups[1].rowCount).toBe(2);
  });
});

describe('seat map state with categories', () => {
  it('keeps_categories_and_sections_and_reads_blocked_seats', () => {
    const s = state({ categories: CATS, sections: SECTIONS, seats: [seat(0, 0, 0, { status: 'BLOCKED', category: 1 })] });
    expect(s.categories).toEqual(CATS);
    expect(s.seats.get(0)?.status).toBe('BLOCKED');
    const s2 = reduceSeatMap(s, { type: 'seat', change: { seatId: 0, status: 'AVAILABLE', version: 2 } });
    expect(s2?.categories).toEqual(CATS);
    expect(s2?.seats.get(0)?.category).toBe(1);
  });

  it('the_layout_key_changes_with_a_snapshot_of_another_layout_not_with_seat_changes', () => {
    const s = state({ categories: CATS, sections: SECTIONS, seats: [seat(0, 0, 0, { section: 1 }), seat(1, 0, 1, { section: 1 })] });
    expect(s.hasAccessible).toBe(false);
    const changed = reduceSeatMap(s, { type: 'seat', change: { seatId: 1, status: 'HELD', version: 2 } });
    expect(changed?.layoutKey).toBe(s.layoutKey);
    const again = state({ categories: CATS, sections: SECTIONS, seats: [seat(0, 0, 0, { section: 1 }), seat(1, 0, 1, { section: 1, status: 'SOLD' })] });
    expect(again.layoutKey).toBe(s.layoutKey);
    const other = state({ categories: CATS, sections: SECTIONS, seats: [seat(0, 0, 0, { section: 1, accessible: true }), seat(1, 0, 1, { section: 1 })] });
    expect(other.layoutKey).not.toBe(s.layoutKey);
    expect(other.hasAccessible).toBe(true);
  });

  it('a_snapshot_without_the_lists_keeps_the_known_ones_of_that_event', () => {
    const s = state({ categories: CATS, sections: SECTIONS, seats: [seat(0, 0, 0)] });
    const next = reduceSeatMap(s, { type: 'snapshot', from: 'stream', body: { eventId: 9, rows: 4, cols: 3, version: 5, seats: [seat(0, 0, 0)] } });
    expect(next?.categories).toEqual(CATS);
    expect(next?.sections).toEqual(SECTIONS);
    const other = reduceSeatMap(s, { type: 'snapshot', from: 'stream', body: { eventId: 10, rows: 1, cols: 1, version: 5, seats: [] } });
    expect(other?.categories).toEqual([]);
  });
});
