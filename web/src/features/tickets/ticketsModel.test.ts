import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../shared/http';
import type { OrderTickets } from './ticketsApi';
import { loadTickets, mapLimit, MANY_TICKETS, notConfirmedYet, TICKETS_RETRY, ticketsRetryMs, type TicketsState } from './ticketsModel';

const notConfirmed = (status = 'PENDING') => new ApiError(409, 'ORDER_NOT_CONFIRMED', 'not confirmed', 't', { status });

function order(n: number): OrderTickets {
  return {
    orderId: 'ord_1',
    eventId: 1,
    tickets: Array.from({ length: n }, (_, i) => ({ seatId: i + 1, seatLabel: `A${i + 1}`, serial: i + 1, ticket: `v1.1.${i + 1}.ord_1.${i + 1}.sig`, png: `/api/orders/ord_1/tickets/${i + 1}.png`, svg: `/api/orders/ord_1/tickets/${i + 1}.svg` })),
  };
}

function harness(answers: (OrderTickets | Error)[]) {
  const states: TicketsState[] = [];
  const waits: number[] = [];
  const get = vi.fn(async () => {
    const a = answers.shift();
    if (a === undefined) throw new Error('no more answers');
    if (a instanceof Error) throw a;
    return a;
  });
  const sleep = vi.fn(async (ms: number) => {
    waits.push(ms);
  });
  return { states, waits, get, sleep, deps: { get, sleep, onState: (s: TicketsState) => states.push(s) } };
}

describe('tickets states', () => {
  it('loading_then_ready', async () => {
    const t = harness([order(2)]);
    const last = await loadTickets('ord_1', t.deps);
    expect(t.states.map((s) => s.kind)).toEqual(['loading', 'ready']);
    expect(last).toMatchObject({ kind: 'ready', many: false });
  });

  it('waits_out_not_confirmed_with_backoff_then_shows_the_tickets', async () => {
    const t = harness([notConfirmed(), notConfirmed(), order(1)]);
    const last = await loadTickets('ord_1', t.deps);
    expect(t.states.map((s) => s.kind)).toEqual(['loading', 'waiting', 'waiting', 'ready']);
    expect(t.waits).toEqual([TICKETS_RETRY.baseMs, TICKETS_RETRY.baseMs * 2]);
    expect(t.states[2]).toMatchObject({ kind: 'waiting', attempt: 2 });
    expect(last.kind).toBe('ready');
  });

  it('gives_up_after_a_bounded_number_of_tries', async () => {
    const t = harness(Array.from({ length: 20 }, () => notConfirmed()));
    const last = await loadTickets('ord_1', t.deps);
    expect(t.get).toHaveBeenCalledTimes(1 + TICKETS_RETRY.attempts);
    expect(last.kind).toBe('error');
    expect(t.waits.every((w) => w <= TICKETS_RETRY.capMs)).toBe(true);
  });

  it('a_cancelled_order_or_another_error_is_shown_at_once', async () => {
    for (const err of [notConfirmed('CANCELLED'), new ApiError(404, 'ORDER_NOT_FOUND', 'no', 't'), new ApiError(0, 'NETWORK', 'down', null)]) {
      const t = harness([err]);
      const last = await loadTickets('ord_1', t.deps);
      expect(t.states.map((s) => s.kind)).toEqual(['loading', 'error']);
      expect(last).toEqual({ kind: 'error', error: err });
      expect(t.sleep).not.toHaveBeenCalled();
    }
  });

  it('an_abort_rejects_instead_of_showing_an_error', async () => {
    const t = harness([Object.assign(new Error('aborted'), { name: 'AbortError' })]);
    await expect(loadTickets('ord_1', t.deps)).rejects.toThrow('aborted');
    expect(t.states.map((s) => s.kind)).toEqual(['loading']);
  });

  it('many_seats_are_flagged_for_the_compact_list', async () => {
    const t = harness([order(MANY_TICKETS)]);
    expect(await loadTickets('ord_1', t.deps)).toMatchObject({ kind: 'ready', many: true });
    const u = harness([order(MANY_TICKETS - 1)]);
    expect(await loadTickets('ord_1', u.deps)).toMatchObject({ kind: 'ready', many: false });
  });

  it('backoff_doubles_and_is_capped', () => {
    expect(ticketsRetryMs(0)).toBe(TICKETS_RETRY.baseMs);
    expect(ticketsRetryMs(1)).toBe(TICKETS_RETRY.baseMs * 2);
    expect(ticketsRetryMs(30)).toBe(TICKETS_RETRY.capMs);
    expect(notConfirmedYet(notConfirmed())).toBe(true);
    expect(notConfirmedYet(new ApiError(409, 'ORDER_NOT_CONFIRMED', 'x', null))).toBe(true);
    expect(notConfirmedYet(new ApiError(409, 'SEAT_TAKEN', 'x', null))).toBe(false);
  });
});

describe('image loading', () => {
  it('never_more_than_the_limit_at_once_and_every_result_kept', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4, async (x) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
      if (x === 5) throw new Error('five');
      return x * 2;
    });
    expect(peak).toBe(4);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 2 });
    expect(results[4].status).toBe('rejected');
    expect(results[9]).toEqual({ status: 'fulfilled', value: 20 });
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});
