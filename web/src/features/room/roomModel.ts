// The waiting room's data, as pure functions: the server's answers checked
// field by field, the estimate and the sale start for people, the progress
// bar, what the live region says, and the ticket kept in sessionStorage.

/** POST /api/events/{id}/room and GET .../room?ticket= answer one of these. */
export type RoomAnswer =
  | { eventId: number; state: 'open' }
  | {
      eventId: number;
      state: 'waiting';
      ticket: string;
      position: number;
      estimatedWaitSeconds: number | null;
      startsAt: string | null;
      rate: number | null;
    }
  | { eventId: number; state: 'admitted'; ticket: string; admittedUntil: string | null };

/** One `position` frame of the room stream. */
export interface PositionFrame {
  position: number;
  estimatedWaitSeconds: number | null;
  state: 'waiting' | 'admitted' | 'open';
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const str = (x: unknown): string | null => (typeof x === 'string' && x.length > 0 ? x : null);
/** A ticket goes back into a URL and a JSON body: printable ASCII without spaces, bounded. */
const TICKET_RE = /^[\x21-\x7e]{1,512}$/;

export function isTicket(x: unknown): x is string {
  return typeof x === 'string' && TICKET_RE.test(x);
}

/** The server's answer, or null when it is not one the page understands. */
export function parseRoomAnswer(body: unknown, eventId: number): RoomAnswer | null {
  if (!isObj(body)) return null;
  const ev = num(body.eventId) ?? eventId;
  switch (body.state) {
    case 'open':
      return { eventId: ev, state: 'open' };
    case 'waiting': {
      const position = num(body.position);
      if (!isTicket(body.ticket) || position === null || position < 0) return null;
      return {
        eventId: ev,
        state: 'waiting',
        ticket: body.ticket,
        position: Math.floor(position),
        estimatedWaitSeconds: num(body.estimatedWaitSeconds),
        startsAt: str(body.startsAt),
        rate: num(body.rate),
      };
    }
    case 'admitted':
      if (!isTicket(body.ticket)) return null;
      return { eventId: ev, state: 'admitted', ticket: body.ticket, admittedUntil: str(body.admittedUntil) };
    default:
      return null;
  }
}

export function parsePositionFrame(body: unknown): PositionFrame | null {
  if (!isObj(body)) return null;
  const position = num(body.position);
  const state = body.state === undefined ? 'waiting' : body.state;
  if (state !== 'waiting' && state !== 'admitted' && state !== 'open') return null;
  if (state === 'waiting' && (position === null || position < 0)) return null;
  return { position: Math.max(0, Math.floor(position ?? 0)), estimatedWaitSeconds: num(body.estimatedWaitSeconds), state };
}

/**
 * The estimated wait for people. Rounded up to whole minutes (an estimate
 * that says less than the truth disappoints), to 5 minutes past an hour;
 * unknown or nonsense values say so instead of inventing a number.
 */
export function formatWait(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return 'Calculating…';
  if (seconds < 60) return 'Less than a minute';
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'About 1 minute' : `About ${minutes} minutes`;
  if (minutes > 24 * 60) return 'More than a day';
  const rounded = Math.ceil(minutes / 5) * 5;
  const h = Math.floor(rounded / 60);
  const m = rounded % 60;
  const hours = h === 1 ? '1 hour' : `${h} hours`;
  return m === 0 ? `About ${hours}` : `About ${hours} ${m} minutes`;
}

/** "in 12 minutes" / "in 2 hours 5 minutes" / "now" for the sale start. */
export function formatStartsIn(startsAtMs: number, nowMs: number): string {
  const s = Math.ceil((startsAtMs - nowMs) / 1000);
  if (!Number.isFinite(s) || s <= 0) return 'now';
  if (s < 60) return s === 1 ? 'in 1 second' : `in ${s} seconds`;
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return minutes === 1 ? 'in 1 minute' : `in ${minutes} minutes`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const hours = h === 1 ? '1 hour' : `${h} hours`;
  return m === 0 ? `in ${hours}` : `in ${hours} ${m} ${m === 1 ? 'minute' : 'minutes'}`;
}

/** Whether the sale start is still ahead (the pre-queue: places are drawn at the start). */
export function saleAhead(startsAt: string | null, nowMs: number): boolean {
  if (!startsAt) return false;
  const t = Date.parse(startsAt);
  return !Number.isNaN(t) && t > nowMs;
}

/**
 * The position this visitor's progress is measured from: the first one
 * seen, or a larger one (the pre-queue is shuffled at the start, so a
 * place can move back once).
 */
export function nextStartPosition(start: number | null, position: number): number {
  return start === null || position > start ? position : start;
}

/** How far along the line this visitor is, 0..1, relative to where it started. */
export function progressOf(startPosition: number | null, position: number): number {
  if (startPosition === null || startPosition <= 0) return position <= 0 ? 1 : 0;
  const p = (startPosition - position) / startPosition;
  return Math.min(1, Math.max(0, p));
}

/** What the live region says, so a screen reader hears it without the visual number's every tick. */
export function announcementFor(position: number, waitSeconds: number | null, ahead: boolean): string {
  if (ahead) return 'You are in the waiting room. Places in line are drawn at random when the sale starts.';
  if (position <= 0) return 'You are at the front of the line. The seat map opens as soon as a place is free.';
  return `Your place in line: ${position}. Estimated wait: ${formatWait(waitSeconds).toLowerCase()}.`;
}

/** The live region speaks at most this often while only the numbers change. */
export const ANNOUNCE_EVERY_MS = 20_000;

/** Whether to update the live region now. */
export function shouldAnnounce(
  last: { text: string; at: number; position: number } | null,
  text: string,
  position: number,
  nowMs: number,
): boolean {
  if (!last) return true;
  if (text === last.text) return false;
  // The front of the line and big moves are news; small steps wait for the interval.
  if (position <= 0 || position * 2 <= last.position) return true;
  return nowMs - last.at >= ANNOUNCE_EVERY_MS;
}

export interface StoredTicket {
  ticket: string;
  startPosition: number | null;
}

/** The room ticket per event in sessionStorage: a reload rejoins with it, a new tab starts its own. */
export class TicketStore {
  constructor(private readonly storage: Storage) {}

  private key(eventId: number): string {
    return `ticketing.room.${eventId}`;
  }

  get(eventId: number): StoredTicket | null {
    try {
      const raw = this.storage.getItem(this.key(eventId));
      if (!raw) return null;
      const v = JSON.parse(raw) as Record<string, unknown>;
      if (!isObj(v) || !isTicket(v.ticket)) return null;
      const sp = num(v.startPosition);
      return { ticket: v.ticket, startPosition: sp !== null && sp >= 0 ? Math.floor(sp) : null };
    } catch {
      return null;
    }
  }

  put(eventId: number, value: StoredTicket): void {
    try {
      this.storage.setItem(this.key(eventId), JSON.stringify(value));
    } catch {
      // Storage full or refused: the visitor only loses the rejoin after a reload.
    }
  }

  clear(eventId: number): void {
    try {
      this.storage.removeItem(this.key(eventId));
    } catch {
      // as above
    }
  }
}
