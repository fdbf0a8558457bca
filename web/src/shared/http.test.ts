import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, onBusy, parseRetryAfter, retryable, retryDelayMs, RETRY, streamTokenQuery, useTokenSource, type BusyState } from './http';

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

const overloaded = (retryAfter = '1') =>
  answer(503, { code: 'OVERLOADED', message: 'busy', traceId: 't', details: { door: 'orders', reason: 'inflight' } }, { 'Retry-After': retryAfter });

describe('retry timing', () => {
  it('retry_after_in_seconds_or_as_a_date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:05 GMT', now)).toBe(5000);
  });
  it('backoff_doubles_is_capped_and_never_undercuts_retry_after', () => {
    const noJitter = () => 0;
    expect(retryDelayMs(0, null, noJitter)).toBe(RETRY.baseMs);
    expect(retryDelayMs(1, null, noJitter)).toBe(RETRY.baseMs * 2);
    expect(retryDelayMs(3, null, noJitter)).toBe(RETRY.baseMs * 8);
    expect(retryDelayMs(20, null, noJitter)).toBe(RETRY.capMs);
    expect(retryDelayMs(0, 5000, noJitter)).toBe(5000);
  });
  it('jitter_adds_at_most_half', () => {
    expect(retryDelayMs(0, 2000, () => 0.999)).toBeLessThanOrEqual(3000);
    expect(retryDelayMs(0, 2000, () => 0.5)).toBe(2500);
  });
  it('only_503_and_429_with_a_short_retry_after_are_retried', () => {
    expect(retryable(503, 1000)).toBe(true);
    expect(retryable(429, 1000)).toBe(true);
    expect(retryable(503, null)).toBe(false); // no Retry-After: not known to be safe
    expect(retryable(500, 1000)).toBe(false);
    expect(retryable(409, 1000)).toBe(false);
    expect(retryable(503, 60_000)).toBe(false); // SESSIONS_EXHAUSTED: shown, not waited
  });
});

describe('stream URLs', () => {
  it('carry_the_token_in_hand_and_nothing_without_one', () => {
    useTokenSource({ token: async () => 'x', current: () => ({ token: 'b'.repeat(32) }), invalidate() {} });
    expect(streamTokenQuery()).toBe(`token=${'b'.repeat(32)}`);
    useTokenSource({ token: async () => 'x', current: () => null, invalidate() {} });
    expect(streamTokenQuery()).toBe('');
  });
});

describe('api() on a saturated server', () => {
  let states: (BusyState | null)[];
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    states = [];
    onBusy((s) => states.push(s));
  });
  afterEach(() => {
    onBusy(null);
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('retries_after_the_delay_shows_busy_and_clears_it', async () => {
    const fetchMock = vi.fn()
      .mockResolvedValueOnce(overloaded('2'))
      .mockResolvedValueOnce(answer(200, { ok: true }));
    vi.stubGlobal('fetch', fetchMock);
    const p = api<{ ok: boolean }>('/api/events', { auth: false });
    await vi.advanceTimersByTimeAsync(1900);
    expect(fetchMock).toHaveBeenCalledTimes(1); // Retry-After honoured
    expect(states[0]).toEqual({ retryInSeconds: 2, attempt: 1, code: 'OVERLOADED' });
    await vi.advanceTimersByTimeAsync(200);
    await expect(p).resolves.toEqual({ ok: true });
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(states[states.length - 1]).toBeNull(); // the notice goes away
  });

  it('gives_up_after_the_bounded_attempts_with_the_servers_error', async () => {
    const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(overloaded('1')));
    vi.stubGlobal('fetch', fetchMock);
    const p = api('/api/orders', { auth: false, body: {} });
    const seen = p.catch((e) => e);
    await vi.advanceTimersByTimeAsync(120_000);
    const err = await seen;
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('OVERLOADED');
    expect(fetchMock).toHaveBeenCalledTimes(1 + RETRY.attempts);
    // waits grew: 1 s, 2 s, 4 s, 8 s
    const countdowns = states.filter((s): s is BusyState => s !== null && s.retryInSeconds > 0);
    expect(countdowns.find((s) => s.attempt === 4)?.retryInSeconds).toBe(8);
  });

  it('does_not_retry_other_errors', async () => {
    const fetchMock = vi.fn().mockResolvedValue(answer(409, { code: 'SEAT_TAKEN', message: 'taken', traceId: 't' }));
    vi.stubGlobal('fetch', fetchMock);
    await expect(api('/api/reservations', { auth: false, body: {} })).rejects.toMatchObject({ code: 'SEAT_TAKEN' });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(states).toEqual([]);
  });

  it('abort_stops_the_wait', async () => {
    const fetchMock = vi.fn().mockResolvedValue(overloaded('5'));
    vi.stubGlobal('fetch', fetchMock);
    const ctl = new AbortController();
    const p = api('/api/events', { auth: false, signal: ctl.signal });
    const seen = p.catch((e) => e);
    await vi.advanceTimersByTimeAsync(1000);
    ctl.abort();
    expect(((await seen) as Error).name).toBe('AbortError');
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(states[states.length - 1]).toBeNull();
  });
});
