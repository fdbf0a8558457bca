// How the map presents an event's real seating, as pure functions the grid
// and the tests share: the category legend (name, price, seats left), each
// seat's classes, colour and spoken label (category, section, accessible
// and companion seats, blocked seats), and the seats grouped by section.
// An event without categories or sections (the demo events) gets exactly
// the plain look: no colour, no headings, no extra words.
import { formatMoney } from '../../shared/money';
import type { Category, Seat, SeatLook, SeatMapState, Section } from './seatMapState';

const LOOK_TEXT: Record<SeatLook, string> = {
  available: 'available',
  mine: 'held by you',
  held: 'held by someone else',
  sold: 'sold',
  blocked: 'not on sale',
  pending: 'waiting for the server',
};

/** The icon of a wheelchair space and the mark of a companion seat (both also spoken in words). */
export const ACCESSIBLE_ICON = '\u267F';
export const COMPANION_MARK = '+';

/** A CSS colour the page may use: only #rgb or #rrggbb, so a server string never reaches CSS as anything else. */
export function safeColor(color: unknown): string | null {
  return typeof color === 'string' && /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color) ? color.toLowerCase() : null;
}

export interface LegendEntry {
  id: number;
  name: string;
  /** The category's price, formatted. */
  price: string;
  color: string | null;
  /** Seats of this category free right now. */
  available: number;
}

/** The category legend in the server's order; empty for an event without categories. */
export function categoryLegend(categories: readonly Category[], seats: Iterable<Seat>): LegendEntry[] {
  const free = new Map<number, number>();
  for (const s of seats) {
    if (s.category !== undefined && s.status === 'AVAILABLE') free.set(s.category, (free.get(s.category) ?? 0) + 1);
  }
  return categories.map((c) => ({
    id: c.id,
    name: c.name,
    price: Number.isSafeInteger(c.price) ? formatMoney(c.price) : '–',
    color: safeColor(c.color),
    available: free.get(c.id) ?? 0,
  }));
}

/** Which of the optional legend rows the map needs. */
export function legendMarks(seats: Iterable<Seat>): { accessible: boolean; companion: boolean; blocked: boolean } {
  const marks = { accessible: false, companion: false, blocked: false };
  for (const s of seats) {
    if (s.accessible) marks.accessible = true;
    if (s.companion) marks.companion = true;
    if (s.status === 'BLOCKED') marks.blocked = true;
  }
  return marks;
}

export interface SeatContext {
  categories: ReadonlyMap<number, Category>;
  sections: ReadonlyMap<number, Section>;
}

export function seatContext(state: Pick<SeatMapState, 'categories' | 'sections'>): SeatContext {
  return {
    categories: new Map(state.categories.map((c) => [c.id, c])),
    sections: new Map(state.sections.map((s) => [s.id, s])),
  };
}

export interface SeatPresentation {
  className: string;
  /** The category colour to paint (available seats only), or null. */
  color: string | null;
  /** The small mark in the seat's corner ('' for none). */
  mark: string;
  clickable: boolean;
  ariaLabel: string;
  title: string;
}

/**
 * A seat's classes, colour, mark and label. `saleOpen` false (before the
 * sale or after it) leaves every seat unselectable; a blocked seat never is.
 */
export function presentSeat(seat: Seat, look: SeatLook, busy: boolean, ctx: SeatContext, saleOpen = true): SeatPresentation {
  const category = seat.category !== undefined ? ctx.categories.get(seat.category) : undefined;
  const section = seat.section !== undefined ? ctx.sections.get(seat.section) : undefined;
  const color = look === 'available' ? safeColor(category?.color) : null;
  const classes = ['seat', `seat--${look}`];
  if (color) classes.push('seat--cat');
  if (seat.accessible) classes.push('seat--accessible');
  if (seat.companion) classes.push('seat--companion');
  if (busy) classes.push('is-busy');
  const clickable = saleOpen && !busy && (look === 'available' || look === 'mine');
  const price = formatMoney(seat.price);
  const words = [`Seat ${seat.label}`];
  if (section) words.push(section.name);
  if (category) words.push(category.name);
  words.push(price);
  if (seat.accessible) words.push('wheelchair space');
  if (seat.companion) words.push('companion seat');
  words.push(LOOK_TEXT[look]);
  const action = !clickable ? '' : look === 'available' ? ' Press to hold.' : ' Press to release.';
  return {
    className: classes.join(' '),
    color,
    mark: seat.accessible ? ACCESSIBLE_ICON : seat.companion ? COMPANION_MARK : '',
    clickable,
    ariaLabel: `${words.join(', ')}.${action}`,
    title: words.join(' · '),
  };
}

export interface SectionGroup {
  /** null: the map has no sections (one plain grid, no heading). */
  section: Section | null;
  seats: Seat[];
  /** The first row of the group (its seats are drawn from this row down). */
  firstRow: number;
  rowCount: number;
}

/**
 * Seats grouped by section in the server's order of sections, front row
 * first; seats naming no known section come last under "Other seats". An
 * event without sections is one group without a heading.
 */
export function sectionGroups(state: Pick<SeatMapState, 'seats' | 'sections'>): SectionGroup[] {
  const ordered = [...state.seats.values()].sort((a, b) => a.r - b.r || a.c - b.c);
  if (state.sections.length === 0) return ordered.length ? [group(null, ordered)] : [];
  const known = new Set(state.sections.map((s) => s.id));
  const groups: SectionGroup[] = [];
  for (const section of state.sections) {
    const seats = ordered.filter((s) => s.section === section.id);
    if (seats.length) groups.push(group(section, seats));
  }
  const rest = ordered.filter((s) => s.section === undefined || !known.has(s.section));
  if (rest.length) groups.push(group({ id: -1, name: 'Other seats' }, rest));
  return groups;
}

function group(section: Section | null, seats: Seat[]): SectionGroup {
  const first = seats[0].r;
  const last = seats[seats.length - 1].r;
  return { section, seats, firstRow: first, rowCount: last - first + 1 };
}
