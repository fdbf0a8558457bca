// The best-available picker's logic, apart from its view: the form read
// into the body of POST /api/reservations/best (only the fields the user
// chose), the answer told in words (which seats, and whether they sit
// together), and the server's refusals told so a buyer knows what to do.
import { ApiError } from '../../shared/http';

/** The server's bound on count (docs/api.md). */
export const MAX_COUNT = 8;

export interface PickerForm {
  /** As read from the form (a <select> gives a string). */
  count: string | number;
  /** A category id, or '' for any. */
  category: string;
  /** A section id, or '' for any. */
  section: string;
  accessible: boolean;
}

export interface BestRequest {
  eventId: number;
  count: number;
  categories?: number[];
  sections?: number[];
  accessible?: true;
}

export type Built = { ok: true; body: BestRequest } | { ok: false; field: 'count' | 'category' | 'section'; message: string };

const ID_RE = /^\d{1,10}$/;

export function buildBestRequest(eventId: number, form: PickerForm): Built {
  const count = typeof form.count === 'number' ? form.count : /^\d{1,2}$/.test(form.count.trim()) ? Number(form.count.trim()) : NaN;
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    return { ok: false, field: 'count', message: `Choose 1 to ${MAX_COUNT} seats.` };
  }
  const body: BestRequest = { eventId, count };
  if (form.category !== '') {
    if (!ID_RE.test(form.category)) return { ok: false, field: 'category', message: 'Choose a category from the list.' };
    body.categories = [Number(form.category)];
  }
  if (form.section !== '') {
    if (!ID_RE.test(form.section)) return { ok: false, field: 'section', message: 'Choose a section from the list.' };
    body.sections = [Number(form.section)];
  }
  if (form.accessible) body.accessible = true;
  return body.eventId >= 0 ? { ok: true, body } : { ok: false, field: 'count', message: 'No event.' };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What the picker says after a hold: the seats, and (shown under "Not together") why they are not side by side. */
export function grantedText(seatLabels: string[], together: boolean): { held: string; apart: string | null } {
  const held = `Held ${plural(seatLabels.length, 'seat', 'seats')}: ${seatLabels.join(', ')}. They are in your cart.`;
  const apart = together || seatLabels.length < 2
    ? null
    : 'No row has that many free seats side by side, so these are the nearest free seats to each other.';
  return { held, apart };
}

/** Describes what was asked, for messages: "2 seats in Premium, Stalls, wheelchair spaces". */
export function describeRequest(req: BestRequest, names: { categories: ReadonlyMap<number, string>; sections: ReadonlyMap<number, string> }): string {
  const parts: string[] = [];
  for (const id of req.categories ?? []) parts.push(names.categories.get(id) ?? `category ${id}`);
  for (const id of req.sections ?? []) parts.push(names.sections.get(id) ?? `section ${id}`);
  const what = req.accessible ? plural(req.count, 'wheelchair space', 'wheelchair spaces') : plural(req.count, 'seat', 'seats');
  return parts.length ? `${what} in ${parts.join(', ')}` : what;
}

/**
 * A refusal in words. The server's codes that a buyer can act on get a
 * sentence of their own; anything else shows the server's message.
 */
export function pickerErrorText(err: unknown, asked: string): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? `Could not reach the server: ${err.message}` : String(err);
  switch (err.code) {
    case 'NOT_ENOUGH_SEATS':
      return `Not enough free seats: there are not ${asked} free right now. Try fewer seats or another choice.`;
    case 'CONFLICT_RETRY':
      return 'Other buyers took those seats first, several times in a row. Try again in a moment.';
    case 'HOLD_LIMIT_EXCEEDED': {
      const limit = typeof err.details?.limit === 'number' ? err.details.limit : null;
      return limit !== null
        ? `That would be more than the ${limit} seats you may hold for this event. Remove seats from your cart first. (${err.message})`
        : `${err.message}. Remove seats from your cart first.`;
    }
    case 'VALIDATION_FAILED': {
      const field = typeof err.details?.field === 'string' ? err.details.field : null;
      return field ? `The server did not accept the ${field}: ${err.message}` : `The server did not accept the request: ${err.message}`;
    }
    case 'DRAINING':
      return 'This server is not taking new holds right now. Try again in a few seconds.';
    default:
      return err.message;
  }
}
