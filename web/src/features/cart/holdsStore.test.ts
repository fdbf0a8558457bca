import { describe, expect, it } from 'vitest';
import { HoldsStore } from './holdsStore';

describe('holds store', () => {
  it('puts_replaces_and_removes', () => {
    const s = new HoldsStore();
    let calls = 0;
    s.subscribe(() => calls++);
    s.put([{ eventId: 1, seatId: 5, expiresAt: '2026-11-27T12:02:00Z' }, { eventId: 2, seatId: 1, expiresAt: '2026-11-27T12:02:00Z' }]);
    expect(s.has(1, 5)).toBe(true);
    expect(s.forEvent(1).map((h) => h.seatId)).toEqual([5]);
    s.replaceAll([{ eventId: 1, seatId: 7, expiresAt: '2026-11-27T12:03:00Z' }]);
    expect(s.has(1, 5)).toBe(false);
    expect(s.has(1, 7)).toBe(true);
    s.remove(1, 7);
    expect(s.all()).toEqual([]);
    expect(calls).toBe(3);
  });
  it('drops_expired_holds', () => {
    const s = new HoldsStore();
    s.put([{ eventId: 1, seatId: 1, expiresAt: '2026-11-27T12:00:00Z' }, { eventId: 1, seatId: 2, expiresAt: '2026-11-27T12:05:00Z' }]);
    expect(s.dropExpired(Date.parse('2026-11-27T12:01:00Z'))).toBe(true);
    expect(s.forEvent(1).map((h) => h.seatId)).toEqual([2]);
    expect(s.dropExpired(Date.parse('2026-11-27T12:01:00Z'))).toBe(false);
  });
});
