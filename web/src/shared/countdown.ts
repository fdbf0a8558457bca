// Countdown arithmetic for holds: pure functions of an expiry and "now".

/** Milliseconds left until expiresAt (an RFC 3339 string or epoch ms), never negative. */
export function remainingMs(expiresAt: string | number, nowMs: number): number {
  const end = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
  if (Number.isNaN(end)) return 0;
  return Math.max(0, end - nowMs);
}

/**
 * "m:ss" (or "h:mm:ss") for a remaining time. Rounds up, so the display
 * reaches 0:00 only when the hold has really run out.
 */
export function formatRemaining(ms: number): string {
  const total = Math.ceil(Math.max(0, ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export type Urgency = 'ok' | 'soon' | 'expired';

/** How urgent a remaining time is: under `soonMs` is 'soon', nothing left is 'expired'. */
export function urgency(ms: number, soonMs = 30_000): Urgency {
  if (ms <= 0) return 'expired';
  return ms <= soonMs ? 'soon' : 'ok';
}
