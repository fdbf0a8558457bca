// One fetch wrapper for the REST API: bearer token, JSON in and out, and the
// contract's error body {"code","message","traceId"} turned into ApiError.
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
  /** Forgets a token the server refused, so the next call gets a new one. */
  invalidate(token: string): void;
}

let tokens: TokenSource | null = null;

export function useTokenSource(source: TokenSource): void {
  tokens = source;
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
  const auth = opts.auth ?? true;
  let res = await send(path, opts, auth);
  if (res.response.status === 401 && auth && tokens && res.token) {
    // The token may have expired or the server's key changed: one new session, one retry.
    tokens.invalidate(res.token);
    res = await send(path, opts, auth);
  }
  return read<T>(res.response);
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
