// One fetch wrapper for the REST API: bearer token, JSON in and out, the
// contract's error body {"code","message","traceId"} turned into ApiError,
// and patience with a saturated server: a 503 or 429 carrying Retry-After
// (nothing was done: OVERLOADED, SERVICE_BUSY, ...) is retried after at
// least that delay, with exponential backoff and jitter, a bounded number of
// times, while a "busy, retrying in N s" notice is shown (see onBusy).
import { observeServerDate } from './clock';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly traceId: string | null,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface TokenSource {
  token(): Promise<string>;
  /** The token in hand, if any, without asking for one (for stream URLs). */
  current?(): { token: string } | null;
  /** Forgets a token the server refused, so the next call gets a new one. */
  invalidate(token: string): void;
}

let tokens: TokenSource | null = null;

export function useTokenSource(source: TokenSource): void {
  tokens = source;
}

/**
 * `token=<session token>` for a stream's URL: EventSource cannot send the
 * Authorization header, so on a room event ticketd takes the session from
 * the query (it never logs query strings). Empty without a token in hand.
 */
export function streamTokenQuery(): string {
  const t = tokens?.current?.()?.token;
  return t ? `token=${encodeURIComponent(t)}` : '';
}

/** The page's patience with a saturated server. */
export const RETRY = {
  /** Retries after the first answer, at most. */
  attempts: 4,
  /** The first backoff step, ms; doubles per retry. */
  baseMs: 1000,
  /** Longest wait between two tries, ms. */
  capMs: 30_000,
  /** A Retry-After longer than this is not waited for: the error is shown. */
  maxRetryAfterMs: 30_000,
};

/** What the page shows while it waits to retry (null: not waiting). */
export interface BusyState {
  /** Seconds until the next try. */
  retryInSeconds: number;
  /** Which retry comes next (1..RETRY.attempts). */
  attempt: number;
  code: string;
}

let busyListener: ((state: BusyState | null) => void) | null = null;

/** Where retries are announced (errorView's busy notice). */
export function onBusy(listener: ((state: BusyState | null) => void) | null): void {
  busyListener = listener;
}

/**
 * The Retry-After header in ms: delta-seconds or an HTTP date; null when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** Is this answer one to wait out and send again (nothing was done)? */
export function retryable(status: number, retryAfterMs: number | null): boolean {
  return (status === 503 || status === 429) && retryAfterMs !== null && retryAfterMs <= RETRY.maxRetryAfterMs;
}

/**
 * The wait before retry number `attempt` (0-based): exponential from
 * RETRY.baseMs, capped, never shorter than Retry-After, plus up to 50 %
 * jitter so that a crowd told the same Retry-After does not come back in
 * the same millisecond.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  const expo = Math.min(RETRY.capMs, RETRY.baseMs * 2 ** attempt);
  const floor = Math.max(expo, retryAfterMs ?? 0);
  return Math.round(floor * (1 + 0.5 * random()));
}

/** Waits ms, counting down through the busy listener; rejects on abort. */
function waitBusy(ms: number, attempt: number, code: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const until = Date.now() + ms;
    const tick = () => {
      busyListener?.({ retryInSeconds: Math.max(0, Math.ceil((until - Date.now()) / 1000)), attempt, code });
    };
    tick();
    const timer = setInterval(tick, 1000);
    const done = setTimeout(() => {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearInterval(timer);
      clearTimeout(done);
      busyListener?.(null);
      reject(new DOMException('aborted', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send the session token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  return read<T>(await request(path, opts));
}

/**
 * A binary answer (an image) with the same token, retries and error body
 * as api(): for files behind the Authorization header, which an <img src>
 * cannot send; show them through URL.createObjectURL.
 */
export async function apiBlob(path: string, opts: RequestOptions = {}): Promise<Blob> {
  const response = await request(path, { ...opts, headers: { Accept: '*/*', ...opts.headers } });
  if (!response.ok) return read<never>(response);
  return response.blob();
}

/**
 * The final answer to a request: the token and busy retries done, the body
 * not read yet.
 */
async function request(path: string, opts: RequestOptions): Promise<Response> {
  const auth = opts.auth ?? true;
  let res = await send(path, opts, auth);
  if (res.response.status === 401 && auth && tokens && res.token) {
    // The token may have expired or the server's key changed: one new session, one retry.
    tokens.invalidate(res.token);
    res = await send(path, opts, auth);
  }
  let waited = false;
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const retryAfterMs = parseRetryAfter(res.response.headers.get('Retry-After'));
    if (!retryable(res.response.status, retryAfterMs)) break;
    // The same request again is safe: the server did nothing with it
    // (and orders carry their Idempotency-Key).
    const code = await peekCode(res.response);
    waited = true;
    await waitBusy(retryDelayMs(attempt, retryAfterMs), attempt + 1, code, opts.signal);
    res = await send(path, opts, auth);
  }
  if (waited) busyListener?.(null);
  return res.response;
}

/** The error code of an answer, without consuming its body. */
async function peekCode(response: Response): Promise<string> {
  try {
    const body = JSON.parse(await response.clone().text()) as { code?: string };
    return body.code ?? `HTTP_${response.status}`;
  } catch {
    return `HTTP_${response.status}`;
  }
}

async function send(path: string, opts: RequestOptions, auth: boolean): Promise<{ response: Response; token: string | null }> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  let token: string | null = null;
  if (auth) {
    if (!tokens) throw new Error('no token source configured');
    token = await tokens.token();
    headers.Authorization = `Bearer ${token}`;
  }
  const sentAt = Date.now();
  let response: Response;
  try {
    response = await fetch(path, {
      method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'The server cannot be reached. Check your connection and try again.', null);
  }
  observeServerDate(response.headers.get('Date'), sentAt, Date.now());
  return { response, token };
}

async function read<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (response.ok) return body as T;
  const e = (body ?? {}) as { code?: string; message?: string; traceId?: string; details?: Record<string, unknown> };
  throw new ApiError(
    response.status,
    e.code ?? `HTTP_${response.status}`,
    e.message ?? `The server answered ${response.status} ${response.statusText}`.trim(),
    e.traceId ?? response.headers.get('Trace-Id'),
    e.details,
  );
}
