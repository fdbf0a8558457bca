// The server's clock, as seen from here. Hold expiries are the server's
// times; if this machine's clock is off by more than the Date header's
// one-second resolution can explain, countdowns are corrected by the skew.

let skewMs = 0;

/** Skew (server minus local) from one response, or 0 when it is within what the Date header's resolution explains. */
export function estimateSkew(serverDateMs: number, sentAtMs: number, receivedAtMs: number): number {
  // Date is truncated to the second: the true server time is in [date, date+1000).
  const serverMid = serverDateMs + 500;
  const localMid = (sentAtMs + receivedAtMs) / 2;
  const skew = serverMid - localMid;
  const slack = 1500 + (receivedAtMs - sentAtMs) / 2;
  return Math.abs(skew) <= slack ? 0 : Math.round(skew);
}

/** Records a response's Date header. */
export function observeServerDate(dateHeader: string | null, sentAtMs: number, receivedAtMs: number): void {
  if (!dateHeader) return;
  const server = Date.parse(dateHeader);
  if (Number.isNaN(server)) return;
  skewMs = estimateSkew(server, sentAtMs, receivedAtMs);
}

/** Now, on the server's clock (epoch ms). */
export function serverNow(): number {
  return Date.now() + skewMs;
}
