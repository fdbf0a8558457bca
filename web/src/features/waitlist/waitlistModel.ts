// The waiting list as the server last described it: nothing (not on it),
// waiting at a position, or holding an offer (seats held for us until
// expiresAt), or gone (the entry ended: offer lapsed, ordered, or left).
// Every state comes from a server answer or a stream frame, never a guess.
import type { SeatMapState } from '../seatmap/seatMapState';

export interface WaitlistOffer {
  seatIds: number[];
  expiresAt: string;
}

/** The body of POST and GET /api/events/{id}/waitlist. */
export interface WaitlistEntry {
  eventId: number;
  position: number | null;
  count: number;
  joinedAt: string;
  offer: WaitlistOffer | null;
}

export type WaitlistState =
  | { kind: 'none' }
  | { kind: 'waiting'; position: number | null; count: number; offer: WaitlistOffer | null }
  | { kind: 'gone'; hadOffer: boolean };

export type WaitlistAction =
  | { type: 'entry'; entry: WaitlistEntry }
  | { type: 'notOnList' }
  | { type: 'position'; position: number | null }
  | { type: 'offer'; offer: WaitlistOffer }
  | { type: 'gone' }
  | { type: 'left' };

export const COUNT_MAX = 4;

/** Joining is offered only when the map shows no free seat. */
export function soldOut(map: SeatMapState | null): boolean {
  if (!map || map.seats.size === 0) return false;
  for (const s of map.seats.values()) if (s.status === 'AVAILABLE') return false;
  return true;
}

export function reduceWaitlist(state: WaitlistState, action: WaitlistAction): WaitlistState {
  switch (action.type) {
    case 'entry':
      return { kind: 'waiting', position: action.entry.position, count: action.entry.count, offer: action.entry.offer };
    case 'notOnList':
      return state.kind === 'waiting' ? { kind: 'gone', hadOffer: state.offer !== null } : { kind: 'none' };
    case 'position':
      return state.kind === 'waiting' ? { ...state, position: action.position } : state;
    case 'offer':
      return state.kind === 'waiting' ? { ...state, offer: action.offer } : state;
    case 'gone':
      return state.kind === 'waiting' ? { kind: 'gone', hadOffer: state.offer !== null } : state;
    case 'left':
      return { kind: 'none' };
  }
}

/** A stream frame's data as an action, or null when it is not one we know. */
export function frameAction(event: string, data: string): WaitlistAction | null {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if (event === 'position' && (b.position === null || (typeof b.position === 'number' && b.position > 0))) {
    return { type: 'position', position: b.position as number | null };
  }
  if (event === 'offer' && Array.isArray(b.seatIds) && b.seatIds.every((x) => Number.isInteger(x)) && typeof b.expiresAt === 'string') {
    return { type: 'offer', offer: { seatIds: b.seatIds as number[], expiresAt: b.expiresAt } };
  }
  if (event === 'gone') return { type: 'gone' };
  return null;
}

/** "Row 3 seat 4"-style labels of offered seats, from the map when it knows them. */
export function offerLabels(offer: WaitlistOffer, map: SeatMapState | null): string[] {
  return offer.seatIds.map((id) => map?.seats.get(id)?.label ?? `#${id}`);
}
