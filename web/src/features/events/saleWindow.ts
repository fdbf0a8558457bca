// An event's sale window (saleStartsAt / saleEndsAt, ISO or null) as the
// page shows it: before the start a "sale opens" notice with a countdown,
// after the end "sale ended", otherwise nothing. Times are the server's
// clock (serverNow), like the holds' countdowns.
import { formatRemaining, remainingMs } from '../../shared/countdown';
import { formatEventDate } from './eventDate';

export type SaleWindow =
  | { state: 'open' }
  | { state: 'before'; opensAt: string; remainingMs: number }
  | { state: 'ended'; endedAt: string };

export function saleWindow(saleStartsAt: string | null | undefined, saleEndsAt: string | null | undefined, nowMs: number): SaleWindow {
  if (saleStartsAt && !Number.isNaN(Date.parse(saleStartsAt))) {
    const left = remainingMs(saleStartsAt, nowMs);
    if (left > 0) return { state: 'before', opensAt: saleStartsAt, remainingMs: left };
  }
  if (saleEndsAt && !Number.isNaN(Date.parse(saleEndsAt)) && Date.parse(saleEndsAt) <= nowMs) {
    return { state: 'ended', endedAt: saleEndsAt };
  }
  return { state: 'open' };
}

/** "1:02:03", or "3 d 1:02:03" past a day (the countdown helper counts hours at most). */
export function formatCountdown(ms: number): string {
  const day = 86_400_000;
  if (ms < day) return formatRemaining(ms);
  const days = Math.floor(ms / day);
  return `${days} d ${formatRemaining(ms - days * day)}`;
}

/** The notice's text; empty while the sale is open. */
export function saleNoticeText(w: SaleWindow): string {
  switch (w.state) {
    case 'open':
      return '';
    case 'before':
      return `Sale opens at ${formatEventDate(w.opensAt)}, in ${formatCountdown(w.remainingMs)}.`;
    case 'ended':
      return `Sale ended at ${formatEventDate(w.endedAt)}.`;
  }
}
