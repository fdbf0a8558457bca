// The seat map as the server last described it: a snapshot (from
// GET /api/events/{id}/seats or the stream's `snapshot`) plus the stream's
// `seat` changes. Versions of an event strictly increase, so a change at or
// below the version already applied is old news and is ignored.
//
// Snapshots: the stream's own snapshot always replaces the map, since what
// follows it on the same stream continues from it (and a lower version than
// ours means the server's counter started again). A fetched snapshot is only
// taken when it is not older than what we have: it may have been read
// before changes the stream already delivered.

/** BLOCKED: taken off sale by the organiser (a kill seat); never selectable. */
export type SeatStatus = 'AVAILABLE' | 'HELD' | 'SOLD' | 'BLOCKED';

export interface Seat {
  id: number;
  r: number;
  c: number;
  label: string;
  price: number;
  status: SeatStatus;
  /** Section id (an event with sections); absent otherwise. */
  section?: number;
  /** Category (price level) id; absent when the seat has none. */
  category?: number;
  /** A wheelchair place (absent when false). */
  accessible?: boolean;
  /** A companion seat beside an accessible one (absent when false). */
  companion?: boolean;
}

/** A price level of an event: its seats' colour on the map and its price (minor units). */
export interface Category {
  id: number;
  name: string;
  price: number;
  color: string;
}

export interface Section {
  id: number;
  name: string;
}

/** The body of GET /api/events/{id}/seats and of the stream's `snapshot`. */
export interface SeatMapBody {
  eventId: number;
  rows: number;
  cols: number;
  version: number;
  seats: Seat[];
  /** Absent or empty on events without categories (the demo events). */
  categories?: Category[];
  sections?: Section[];
}

/** One `seat` event of the stream. */
export interface SeatChange {
  seatId: number;
  status: SeatStatus;
  version: number;
}

export interface SeatMapState {
  eventId: number;
  rows: number;
  cols: number;
  /** The highest version applied. */
  version: number;
  /** Seats by id. */
  seats: ReadonlyMap<number, Seat>;
  /** The version of the change that last touched each seat (the snapshot's for untouched ones). */
  seatVersions: ReadonlyMap<number, number>;
  /** The event's categories and sections, in the server's order (empty when it has none). */
  categories: readonly Category[];
  sections: readonly Section[];
  /**
   * What only a snapshot can change (sections, categories, accessible and
   * companion seats), as a key: the grid rebuilds when it differs. Seat
   * changes keep it, so they cost no walk over a large map.
   */
  layoutKey: string;
  /** The map has wheelchair spaces (from the snapshot). */
  hasAccessible: boolean;
}

export type SnapshotSource = 'stream' | 'fetch';

export type SeatMapAction =
  | { type: 'snapshot'; body: SeatMapBody; from: SnapshotSource }
  | { type: 'seat'; change: SeatChange };

const STATUSES: ReadonlySet<string> = new Set(['AVAILABLE', 'HELD', 'SOLD', 'BLOCKED']);

export function isSeatStatus(s: unknown): s is SeatStatus {
  return typeof s === 'string' && STATUSES.has(s);
}

/**
 * Applies one snapshot or change. Returns the same object when nothing
 * changed, so callers can skip re-rendering.
 */
export function reduceSeatMap(state: SeatMapState | null, action: SeatMapAction): SeatMapState | null {
  switch (action.type) {
    case 'snapshot': {
      const b = action.body;
      // A fetched snapshot older than what we have applied would take us back in time.
      if (action.from === 'fetch' && state && state.eventId === b.eventId && b.version < state.version) return state;
      const seats = new Map<number, Seat>();
      const seatVersions = new Map<number, number>();
      for (const s of b.seats) {
        seats.set(s.id, { ...s });
        seatVersions.set(s.id, b.version);
      }
      // A snapshot without the lists (a server that leaves them out of the
      // stream's frames) keeps the ones already known for this event.
      const same = state !== null && state.eventId === b.eventId;
      const categories = Array.isArray(b.categories) ? b.categories : same ? state.categories : [];
      const sections = Array.isArray(b.sections) ? b.sections : same ? state.sections : [];
      let hasAccessible = false;
      const layout: string[] = [];
      for (const s of b.seats) {
        if (s.accessible) hasAccessible = true;
        layout.push(`${s.id}:${s.section ?? ''}${s.category ?? ''}${s.accessible ? 'a' : ''}${s.companion ? 'c' : ''}`);
      }
      const layoutKey = `${b.eventId}:${b.rows}x${b.cols}:${JSON.stringify([categories, sections])}:${layout.join(',')}`;
      return { eventId: b.eventId, rows: b.rows, cols: b.cols, version: b.version, seats, seatVersions, categories, sections, layoutKey, hasAccessible };
    }
    case 'seat': {
      const c = action.change;
      // Without a snapshot there is nothing to apply a change to.
      if (!state) return state;
      if (!Number.isSafeInteger(c.version) || c.version <= state.version) return state;
      if (!isSeatStatus(c.status)) return state;
      const seat = state.seats.get(c.seatId);
      if (!seat) return { ...state, version: c.version };
      const seats = new Map(state.seats);
      seats.set(c.seatId, { ...seat, status: c.status });
      const seatVersions = new Map(state.seatVersions);
      seatVersions.set(c.seatId, c.version);
      return { ...state, version: c.version, seats, seatVersions };
    }
  }
}

/** What a seat looks like to this session. */
export type SeatLook = 'available' | 'mine' | 'held' | 'sold' | 'blocked' | 'pending';

/**
 * A seat's look from the server's status and what this session knows from
 * its own server answers: `mine` (a hold the server granted us) and
 * `pending` (our hold or release request is still in flight).
 */
export function seatLook(status: SeatStatus, mine: boolean, pending: boolean): SeatLook {
  if (status === 'SOLD') return 'sold';
  if (status === 'BLOCKED') return 'blocked';
  if (mine) return 'mine';
  // Our own hold request is in flight and the stream already says HELD:
  // most likely ours, but we do not know yet, so say neither.
  if (pending && status === 'HELD') return 'pending';
  return status === 'HELD' ? 'held' : 'available';
}
