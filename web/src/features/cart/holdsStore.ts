// This session's holds, as the server told us: from GET /api/reservations and
// from the answers to our own hold, extend and release calls. Nothing is
// added here before the server says so.
import type { Hold } from './holdsApi';

export type Listener = () => void;

export class HoldsStore {
  private holds = new Map<string, Hold>();
  private listeners = new Set<Listener>();

  static key(eventId: number, seatId: number): string {
    return `${eventId}:${seatId}`;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  /** Replaces everything with the server's list. */
  replaceAll(list: Hold[]): void {
    this.holds = new Map(list.map((h) => [HoldsStore.key(h.eventId, h.seatId), { ...h }]));
    this.emit();
  }

  /** Records holds the server granted or extended. */
  put(list: Hold[]): void {
    for (const h of list) this.holds.set(HoldsStore.key(h.eventId, h.seatId), { ...h });
    this.emit();
  }

  remove(eventId: number, seatId: number): void {
    if (this.holds.delete(HoldsStore.key(eventId, seatId))) this.emit();
  }

  /** Drops holds whose expiry has passed; true when any was dropped. */
  dropExpired(nowMs: number): boolean {
    let dropped = false;
    for (const [k, h] of this.holds) {
      if (Date.parse(h.expiresAt) <= nowMs) {
        this.holds.delete(k);
        dropped = true;
      }
    }
    if (dropped) this.emit();
    return dropped;
  }

  has(eventId: number, seatId: number): boolean {
    return this.holds.has(HoldsStore.key(eventId, seatId));
  }

  forEvent(eventId: number): Hold[] {
    return [...this.holds.values()].filter((h) => h.eventId === eventId).sort((a, b) => a.seatId - b.seatId);
  }

  all(): Hold[] {
    return [...this.holds.values()];
  }
}
