// One checkout attempt: its Idempotency-Key and, once created, its order.
// Kept in sessionStorage so a retry (or a reload mid-payment) reuses the key
// and cannot create a second order. A new attempt (other seats, or after
// the last one finished) gets a new key.

export interface Attempt {
  key: string;
  eventId: number;
  seatIds: number[];
  orderId?: string;
  authorized?: boolean;
}

const prefix = 'ticketing.checkout.';

export function newIdempotencyKey(): string {
  // getRandomValues works on plain-http origins too, unlike randomUUID.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function sameSeats(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort((x, y) => x - y);
  const sb = [...b].sort((x, y) => x - y);
  return sa.every((v, i) => v === sb[i]);
}

export class AttemptStore {
  constructor(private readonly storage: Storage) {}

  load(eventId: number): Attempt | null {
    try {
      const raw = this.storage.getItem(prefix + eventId);
      return raw ? (JSON.parse(raw) as Attempt) : null;
    } catch {
      return null;
    }
  }

  save(a: Attempt): void {
    this.storage.setItem(prefix + a.eventId, JSON.stringify(a));
  }

  clear(eventId: number): void {
    this.storage.removeItem(prefix + eventId);
  }

  /**
   * The attempt to use for these seats: the stored one if it already has an
   * order or is for the same seats, otherwise a new one with a fresh key.
   */
  begin(eventId: number, seatIds: number[]): Attempt {
    const prev = this.load(eventId);
    if (prev && (prev.orderId || sameSeats(prev.seatIds, seatIds))) return prev;
    const a: Attempt = { key: newIdempotencyKey(), eventId, seatIds: [...seatIds].sort((x, y) => x - y) };
    this.save(a);
    return a;
  }
}
