import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/http';
import { MemoryStorage } from '../../testing/memoryStorage';
import { AdminKeyStore, normalizeAdminKey } from './adminKey';
import {
  adminErrorText,
  basicsOf,
  buildCreateBody,
  buildPatchBody,
  isoToLocal,
  emptyDraft,
  localToIso,
  nextRowLabel,
  parseAdminEvents,
  parseAudit,
  parseMoney,
  parseSeatList,
  type EventDraft,
} from './adminModel';

function draft(over: Partial<EventDraft> = {}): EventDraft {
  return {
    ...emptyDraft(),
    name: ' Gala ',
    venue: 'Opera House',
    startsAt: '2027-06-01T19:30',
    categories: [
      { name: 'Premium', price: '150', color: '#B03A2E' },
      { name: 'Standard', price: '80.5', color: '#1f618d' },
    ],
    sections: [
      {
        name: 'Stalls',
        rows: [
          { label: 'A', seats: '20', category: '1', accessible: '1, 2', companions: '3', blocked: '10' },
          { label: 'B', seats: '18', category: '2', accessible: '', companions: '', blocked: '' },
        ],
      },
      { name: 'Balcony', rows: [{ label: 'A', seats: '12', category: '', accessible: '', companions: '', blocked: '5-7' }] },
    ],
    ...over,
  };
}

describe('admin form -> POST /admin/events body', () => {
  it('builds_the_agreed_body_with_ids_minor_units_and_utc_times', () => {
    const r = buildCreateBody(draft({ saleStartsAt: '2027-05-01T10:00', holdLimit: '6', holdSeconds: '300' }));
    expect(r).toEqual({
      ok: true,
      body: {
        name: 'Gala',
        venue: 'Opera House',
        startsAt: '2027-06-01T19:30:00.000Z',
        saleStartsAt: '2027-05-01T10:00:00.000Z',
        holdLimit: 6,
        holdSeconds: 300,
        categories: [
          { id: 1, name: 'Premium', price: 15000, color: '#b03a2e' },
          { id: 2, name: 'Standard', price: 8050, color: '#1f618d' },
        ],
        sections: [
          {
            id: 1,
            name: 'Stalls',
            rows: [
              { label: 'A', seats: 20, category: 1, accessible: [1, 2], companions: [3], blocked: [10] },
              { label: 'B', seats: 18, category: 2 },
            ],
          },
          { id: 2, name: 'Balcony', rows: [{ label: 'A', seats: 12, blocked: [5, 6, 7] }] },
        ],
      },
    });
  });

  it('reports_every_problem_with_the_path_of_its_input', () => {
    const d = draft({ name: '', startsAt: 'tomorrow', saleStartsAt: '2027-05-02T10:00', saleEndsAt: '2027-05-01T10:00', holdSeconds: '2' });
    d.categories[1].price = '80.555';
    d.sections[0].rows[1].label = 'A';
    d.sections[0].rows[0].accessible = '21';
    d.sections[1].rows[0].category = '3';
    const r = buildCreateBody(d);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.path)).toEqual([
      'name',
      'startsAt',
      'saleEndsAt',
      'holdSeconds',
      'categories.1.price',
      'sections.0.rows.0.accessible',
      'sections.0.rows.1.label',
      'sections.1.rows.0.category',
    ]);
    expect(r.errors[2].message).toBe('The sale must end after it starts.');
  });

  it('needs_a_section_with_a_row', () => {
    const r = buildCreateBody(draft({ sections: [] }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([{ path: 'sections', message: 'Add at least one section.' }]);
  });

  it('reads_amounts_seat_lists_times_and_row_labels', () => {
    expect(parseMoney('150')).toBe(15000);
    expect(parseMoney('1 500,5')).toBe(150050);
    expect(parseMoney('0.05')).toBe(5);
    expect(parseMoney('-1')).toBeNull();
    expect(parseMoney('1.234')).toBeNull();
    expect(parseSeatList(' 3, 1 2-4 ', 10)).toEqual([1, 2, 3, 4]);
    expect(parseSeatList('', 10)).toEqual([]);
    expect(parseSeatList('0', 10)).toBeNull();
    expect(parseSeatList('4-2', 10)).toBeNull();
    expect(parseSeatList('11', 10)).toBeNull();
    expect(localToIso('2027-06-01T19:30')).toBe('2027-06-01T19:30:00.000Z');
    expect(localToIso('2027-06-01T19:30:15')).toBe('2027-06-01T19:30:15.000Z');
    expect(localToIso('2027-13-01T19:30')).toBeNull();
    expect(nextRowLabel(undefined)).toBe('A');
    expect(nextRowLabel('B')).toBe('C');
    expect(nextRowLabel('Z')).toBe('AA');
    expect(nextRowLabel('9')).toBe('10');
  });
});

describe('admin edit form -> PATCH /admin/events/{id} body', () => {
  const event = {
    id: 4,
    name: 'Gala',
    venue: 'Opera House',
    startsAt: '2027-06-01T19:30:00.000Z',
    saleStartsAt: '2027-05-01T10:00:00.000Z',
    saleEndsAt: null,
    rows: 1,
    cols: 1,
    available: 1,
    held: 0,
    sold: 0,
    state: 'DRAFT',
    holdLimit: 6,
  };

  it('shows_the_event_in_the_forms_utc_fields', () => {
    expect(basicsOf(event)).toEqual({
      name: 'Gala',
      venue: 'Opera House',
      startsAt: '2027-06-01T19:30',
      saleStartsAt: '2027-05-01T10:00',
      saleEndsAt: '',
      holdLimit: '6',
      holdSeconds: '',
      maxHoldSeconds: '',
    });
    expect(isoToLocal('nonsense')).toBe('');
  });

  it('sends_only_what_changed_and_null_for_an_emptied_sale_time', () => {
    const before = basicsOf(event);
    expect(buildPatchBody(before, { ...before, saleStartsAt: '', saleEndsAt: '2027-05-31T23:00', holdLimit: '4' })).toEqual({
      ok: true,
      body: { holdLimit: 4, saleStartsAt: null, saleEndsAt: '2027-05-31T23:00:00.000Z' },
    });
    expect(buildPatchBody(before, { ...before, name: ' Gala II ' })).toEqual({ ok: true, body: { name: 'Gala II' } });
  });

  it('refuses_an_unchanged_or_invalid_form', () => {
    const before = basicsOf(event);
    expect(buildPatchBody(before, { ...before })).toEqual({ ok: false, errors: [{ path: 'name', message: 'Nothing changed.' }] });
    const r = buildPatchBody(before, { ...before, saleEndsAt: '2027-04-01T10:00' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0].path).toBe('saleEndsAt');
  });
});

describe('admin answers', () => {
  it('reads_the_event_list_bare_or_wrapped', () => {
    const e = { id: 4, name: 'Gala', state: 'DRAFT' };
    expect(parseAdminEvents([e, { name: 'no id' }])).toEqual([e]);
    expect(parseAdminEvents({ events: [e] })).toEqual([e]);
    expect(parseAdminEvents('nonsense')).toEqual([]);
  });

  it('reads_audit_entries_and_keeps_the_rest_as_details', () => {
    expect(
      parseAudit({ entries: [{ id: 9, at: '2027-01-01T10:00:00.000Z', actor: 'admin', action: 'event.publish', eventId: 4, details: { from: 'DRAFT' } }] }),
    ).toEqual([{ at: '2027-01-01T10:00:00.000Z', actor: 'admin', action: 'event.publish', eventId: 4, details: '{"from":"DRAFT"}' }]);
    expect(parseAudit([{ time: 't', action: 'seats.block', seatIds: [1, 2] }])).toEqual([
      { at: 't', actor: '', action: 'seats.block', eventId: null, details: '{"seatIds":[1,2]}' },
    ]);
  });

  it('says_what_to_do_about_a_missing_or_refused_key', () => {
    expect(adminErrorText(new ApiError(401, 'UNAUTHORIZED', 'x', 't'))).toMatch(/paste it/);
    expect(adminErrorText(new ApiError(403, 'FORBIDDEN', 'x', 't'))).toMatch(/loopback clients only/);
    expect(adminErrorText(new ApiError(422, 'VALIDATION_FAILED', 'bad rows', 't', { field: 'sections' }))).toBe('ticketd did not accept sections: bad rows');
    expect(adminErrorText(new ApiError(409, 'EVENT_NOT_DRAFT', 'already published', 't'))).toBe('already published');
  });
});

describe('admin key', () => {
  it('keeps_only_a_64_hex_key_in_session_storage', () => {
    const storage = new MemoryStorage();
    const keys = new AdminKeyStore(storage);
    expect(keys.set('nope')).toBe(false);
    expect(keys.get()).toBeNull();
    const k = 'AB'.repeat(32);
    expect(keys.set(`  ${k}\n`)).toBe(true);
    expect(keys.get()).toBe(k.toLowerCase());
    keys.clear();
    expect(keys.get()).toBeNull();
    expect(normalizeAdminKey('g'.repeat(64))).toBeNull();
  });
});
