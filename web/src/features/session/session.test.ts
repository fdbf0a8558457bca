import { describe, expect, it, vi } from 'vitest';
import { SessionStore, isUsable, type Session } from './session';
import { MemoryStorage } from '../../testing/memoryStorage';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const session = (n: number, expiresAt = '2026-11-28T12:00:00Z'): Session => ({
  sessionId: n.toString(16).padStart(16, '0'),
  token: n.toString(16).padStart(32, '0'),
  expiresAt,
});

describe('session', () => {
  it('creates_once_and_reuses_the_stored_token', async () => {
    const create = vi.fn(async () => session(1));
    const store = new SessionStore(new MemoryStorage(), create, () => NOW);
    expect(await store.token()).toBe(session(1).token);
    expect(await store.token()).toBe(session(1).token);
    expect(create).toHaveBeenCalledTimes(1);
  });
  it('concurrent_callers_share_one_creation', async () => {
    const create = vi.fn(async () => session(2));
    const store = new SessionStore(new MemoryStorage(), create, () => NOW);
    const tokens = await Promise.all([store.token(), store.token(), store.token()]);
    expect(new Set(tokens).size).toBe(1);
    expect(create).toHaveBeenCalledTimes(1);
  });
  it('replaces_a_token_close_to_expiry', async () => {
    const storage = new MemoryStorage();
    storage.setItem('ticketing.session', JSON.stringify(session(3, '2026-11-27T12:00:30Z')));
    const create = vi.fn(async () => session(4));
    const store = new SessionStore(storage, create, () => NOW);
    expect(await store.token()).toBe(session(4).token);
  });
  it('invalidate_forgets_the_refused_token', async () => {
    let n = 5;
    const store = new SessionStore(new MemoryStorage(), async () => session(n++), () => NOW);
    const first = await store.token();
    store.invalidate(first);
    expect(await store.token()).not.toBe(first);
  });
  it('rejects_malformed_stored_sessions', () => {
    expect(isUsable({ sessionId: 'x', token: 'nothex', expiresAt: '2030-01-01T00:00:00Z' }, NOW)).toBe(false);
    expect(isUsable(null, NOW)).toBe(false);
  });
});
