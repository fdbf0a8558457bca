// The admin key (64 hex digits of <state_dir>/admin.key) is pasted by the
// operator and kept in this tab's sessionStorage only: it is gone when the
// tab closes, never in localStorage, a cookie or a URL.
const KEY = 'ticketing.adminKey';

export function normalizeAdminKey(raw: string): string | null {
  const k = raw.trim().toLowerCase();
  return /^[0-9a-f]{64}$/.test(k) ? k : null;
}

export class AdminKeyStore {
  constructor(private readonly storage: Storage) {}

  get(): string | null {
    try {
      const v = this.storage.getItem(KEY);
      return v ? normalizeAdminKey(v) : null;
    } catch {
      return null;
    }
  }

  /** Stores a valid key; false (and nothing stored) for anything else. */
  set(raw: string): boolean {
    const k = normalizeAdminKey(raw);
    if (!k) return false;
    try {
      this.storage.setItem(KEY, k);
    } catch {
      return false;
    }
    return true;
  }

  clear(): void {
    try {
      this.storage.removeItem(KEY);
    } catch {
      // nothing kept
    }
  }
}
