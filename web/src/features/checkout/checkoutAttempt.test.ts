import { describe, expect, it } from 'vitest';
import { AttemptStore, newIdempotencyKey, sameSeats } from './checkoutAttempt';
import { devSimulate } from './devToggle';
import { MemoryStorage } from '../../testing/memoryStorage';

describe('checkout attempt', () => {
  it('keys_are_32_hex_and_unique', () => {
    const a = newIdempotencyKey();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newIdempotencyKey()).not.toBe(a);
  });
  it('a_retry_for_the_same_seats_reuses_the_key', () => {
    const store = new AttemptStore(new MemoryStorage());
    const first = store.begin(1, [3, 1]);
    expect(store.begin(1, [1, 3]).key).toBe(first.key);
  });
  it('other_seats_get_a_new_key', () => {
    const store = new AttemptStore(new MemoryStorage());
    const first = store.begin(1, [1]);
    expect(store.begin(1, [1, 2]).key).not.toBe(first.key);
  });
  it('an_attempt_with_an_order_is_kept_until_cleared', () => {
    const store = new AttemptStore(new MemoryStorage());
    const a = store.begin(1, [1]);
    store.save({ ...a, orderId: 'o-1' });
    expect(store.begin(1, [9]).orderId).toBe('o-1');
    store.clear(1);
    expect(store.begin(1, [1]).key).not.toBe(a.key);
  });
  it('same_seats_ignores_order', () => {
    expect(sameSeats([1, 2], [2, 1])).toBe(true);
    expect(sameSeats([1, 2], [1, 2, 3])).toBe(false);
  });
  it('dev_toggle_reads_only_approve_or_decline', () => {
    expect(devSimulate('?dev=approve')).toBe('approve');
    expect(devSimulate('?x=1&dev=decline')).toBe('decline');
    expect(devSimulate('?dev=maybe')).toBeUndefined();
    expect(devSimulate('')).toBeUndefined();
  });
});
