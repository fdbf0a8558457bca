// Loading an order's tickets, as states the view shows: the order may still
// be settling (409 ORDER_NOT_CONFIRMED while the saga finishes), so that
// answer is waited out a few times with backoff; anything else is shown.
import { ApiError } from '../../shared/http';
import type { OrderTickets } from './ticketsApi';

export const TICKETS_RETRY = {
  /** Tries after the first 409 ORDER_NOT_CONFIRMED, at most. */
  attempts: 5,
  /** First wait, ms; doubles per try. */
  baseMs: 500,
  /** Longest wait, ms. */
  capMs: 4000,
};

/** From this many tickets on, the view lists them compactly. */
export const MANY_TICKETS = 6;

/** QR images fetched at once. */
export const IMAGE_CONCURRENCY = 4;

export type TicketsState =
  | { kind: 'loading' }
  | { kind: 'waiting'; attempt: number; retryInMs: number }
  | { kind: 'ready'; data: OrderTickets; many: boolean }
  | { kind: 'error'; error: unknown };

export interface LoadDeps {
  get: (orderId: string, signal?: AbortSignal) => Promise<OrderTickets>;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  onState: (state: TicketsState) => void;
}

/** The wait before try number `attempt` (0-based). */
export function ticketsRetryMs(attempt: number): number {
  return Math.min(TICKETS_RETRY.capMs, TICKETS_RETRY.baseMs * 2 ** attempt);
}

/** Is this answer "not confirmed yet" (worth waiting for), rather than cancelled or another error? */
export function notConfirmedYet(err: unknown): boolean {
  if (!(err instanceof ApiError) || err.status !== 409 || err.code !== 'ORDER_NOT_CONFIRMED') return false;
  const status = err.details?.status;
  return status === undefined || status === 'PENDING';
}

/** Loads the tickets, announcing each state; resolves with the last one (rejects only on abort). */
export async function loadTickets(orderId: string, deps: LoadDeps, signal?: AbortSignal): Promise<TicketsState> {
  deps.onState({ kind: 'loading' });
  for (let attempt = 0; ; attempt++) {
    try {
      const data = await deps.get(orderId, signal);
      const state: TicketsState = { kind: 'ready', data, many: data.tickets.length >= MANY_TICKETS };
      deps.onState(state);
      return state;
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      if (!notConfirmedYet(err) || attempt >= TICKETS_RETRY.attempts) {
        const state: TicketsState = { kind: 'error', error: err };
        deps.onState(state);
        return state;
      }
      const retryInMs = ticketsRetryMs(attempt);
      deps.onState({ kind: 'waiting', attempt: attempt + 1, retryInMs });
      await deps.sleep(retryInMs, signal);
    }
  }
}

/** Runs fn over items, at most `limit` at a time; never rejects (each result is settled). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i], i) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
