// The browser's session: one token from POST /api/sessions, kept in
// localStorage and reused until shortly before its expiresAt.
import { api, type TokenSource } from '../../shared/http';

export interface Session {
  sessionId: string;
  token: string;
  expiresAt: string;
}

const STORAGE_KEY = 'ticketing.session';
/** A token this close to its expiry is replaced rather than used. */
const RENEW_MARGIN_MS = 60_000;

export function isUsable(s: Session | null, nowMs: number): s is Session {
  if (!s || typeof s.token !== 'string' || !/^[0-9a-f]{32}$/.test(s.token)) return false;
  const exp = Date.parse(s.expiresAt);
  return !Number.isNaN(exp) && exp - nowMs > RENEW_MARGIN_MS;
}

export class SessionStore implements TokenSource {
  private inflight: Promise<Session> | null = null;

  constructor(
    private readonly storage: Storage,
    private readonly create: () => Promise<Session> = () => api<Session>('/api/sessions', { method: 'POST', auth: false }),
    private readonly now: () => number = Date.now,
  ) {}

  current(): Session | null {
    try {
      const raw = this.storage.getItem(STORAGE_KEY);
      const s = raw ? (JSON.parse(raw) as Session) : null;
      return isUsable(s, this.now()) ? s : null;
    } catch {
      return null;
    }
  }

  async token(): Promise<string> {
    const s = this.current();
    if (s) return s.token;
    // Concurrent callers share one POST /api/sessions.
    this.inflight ??= this.create()
      .then((fresh) => {
        this.storage.setItem(STORAGE_KEY, JSON.stringify(fresh));
        return fresh;
      })
      .finally(() => {
        this.inflight = null;
      });
    return (await this.inflight).token;
  }

  invalidate(token: string): void {
    if (this.current()?.token === token) this.storage.removeItem(STORAGE_KEY);
  }
}
