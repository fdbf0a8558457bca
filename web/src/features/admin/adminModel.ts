// The admin page's logic, apart from its view: the create-event form (as
// typed) checked and turned into the body of POST /admin/events, the
// server's lists read defensively, and the admin API's refusals in words.
import { ApiError } from '../../shared/http';
import type { AdminEvent } from './adminApi';

export interface CategoryDraft {
  name: string;
  /** A decimal amount as typed: "150", "150.5", "150.50". */
  price: string;
  color: string;
}

export interface RowDraft {
  label: string;
  seats: string;
  /** A category's position + 1 as a string, or '' for none. */
  category: string;
  /** Seat numbers in the row: "1, 2, 5-7". */
  accessible: string;
  companions: string;
  blocked: string;
}

export interface SectionDraft {
  name: string;
  rows: RowDraft[];
}

/** The event's own fields, as typed (the create form's first part). */
export type BasicsDraft = Pick<EventDraft, 'name' | 'venue' | 'startsAt' | 'saleStartsAt' | 'saleEndsAt' | 'holdLimit' | 'holdSeconds' | 'maxHoldSeconds'>;

export interface EventDraft {
  name: string;
  venue: string;
  /** <input type="datetime-local"> values, read as UTC. */
  startsAt: string;
  saleStartsAt: string;
  saleEndsAt: string;
  holdLimit: string;
  holdSeconds: string;
  maxHoldSeconds: string;
  categories: CategoryDraft[];
  sections: SectionDraft[];
}

export interface CreateEventBody {
  name: string;
  venue: string;
  startsAt: string;
  saleStartsAt?: string;
  saleEndsAt?: string;
  holdLimit?: number;
  holdSeconds?: number;
  maxHoldSeconds?: number;
  categories: { id: number; name: string; price: number; color: string }[];
  sections: {
    id: number;
    name: string;
    rows: { label: string; seats: number; category?: number; accessible?: number[]; companions?: number[]; blocked?: number[] }[];
  }[];
}

/** One problem of the form: the input's path (as in data-path) and what to fix. */
export interface FieldError {
  path: string;
  message: string;
}

export type BuildResult = { ok: true; body: CreateEventBody } | { ok: false; errors: FieldError[] };

export const MAX_SEATS_PER_ROW = 500;

export function emptyRow(label = 'A'): RowDraft {
  return { label, seats: '10', category: '', accessible: '', companions: '', blocked: '' };
}

export function emptyDraft(): EventDraft {
  return {
    name: '',
    venue: '',
    startsAt: '',
    saleStartsAt: '',
    saleEndsAt: '',
    holdLimit: '',
    holdSeconds: '',
    maxHoldSeconds: '',
    categories: [{ name: 'Standard', price: '50.00', color: '#1f618d' }],
    sections: [{ name: 'Stalls', rows: [emptyRow('A')] }],
  };
}

/** The next row label after the last one: A -> B, Z -> AA, 9 -> 10. */
export function nextRowLabel(last: string | undefined): string {
  if (!last) return 'A';
  if (/^\d+$/.test(last)) return String(Number(last) + 1);
  if (/^[A-Z]+$/.test(last)) {
    const chars = last.split('');
    let i = chars.length - 1;
    while (i >= 0 && chars[i] === 'Z') chars[i--] = 'A';
    if (i < 0) chars.unshift('A');
    else chars[i] = String.fromCharCode(chars[i].charCodeAt(0) + 1);
    return chars.join('');
  }
  return `${last}'`;
}

/** A decimal amount ("150", "150.5", "1 500.50") in minor units; null when it is not one. */
export function parseMoney(text: string): number | null {
  const t = text.replace(/[\s\u00a0]/g, '');
  const m = /^(\d{1,9})(?:[.,](\d{1,2}))?$/.exec(t);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/**
 * Seat numbers of a row ("1, 2, 5-7"), each 1..max, sorted, without
 * duplicates; [] for an empty field, null when the text is not such a list.
 */
export function parseSeatList(text: string, max: number): number[] | null {
  const t = text.trim();
  if (t === '') return [];
  const out = new Set<number>();
  for (const part of t.split(/[,\s]+/).filter(Boolean)) {
    const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b < a || b > max) return null;
    for (let n = a; n <= b; n++) out.add(n);
  }
  return [...out].sort((x, y) => x - y);
}

/** A datetime-local value ("2027-03-12T19:30", seconds optional), read as UTC, as the API's ISO string. */
export function localToIso(value: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?$/.exec(value.trim());
  if (!m) return null;
  const t = Date.parse(`${m[1]}T${m[2]}${m[3] ?? ':00'}.000Z`);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

function optionalInt(text: string, min: number, max: number): number | null | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (!/^\d{1,9}$/.test(t)) return null;
  const n = Number(t);
  return n < min || n > max ? null : n;
}

/** The event's own fields of a create or edit form: reported through err, returned as sent. */
export type Basics = Omit<CreateEventBody, 'categories' | 'sections'>;

function checkBasics(d: BasicsDraft, err: (path: string, message: string) => void): Basics {
  const name = d.name.trim();
  const venue = d.venue.trim();
  if (!name) err('name', 'Name the event.');
  if (!venue) err('venue', 'Name the venue.');
  const startsAt = localToIso(d.startsAt);
  if (!startsAt) err('startsAt', 'Give the start date and time.');
  const body: Basics = { name, venue, startsAt: startsAt ?? '' };

  const saleStartsAt = d.saleStartsAt.trim() ? localToIso(d.saleStartsAt) : undefined;
  const saleEndsAt = d.saleEndsAt.trim() ? localToIso(d.saleEndsAt) : undefined;
  if (saleStartsAt === null) err('saleStartsAt', 'The sale start is not a date and time.');
  if (saleEndsAt === null) err('saleEndsAt', 'The sale end is not a date and time.');
  if (saleStartsAt && saleEndsAt && Date.parse(saleEndsAt) <= Date.parse(saleStartsAt)) err('saleEndsAt', 'The sale must end after it starts.');
  if (saleStartsAt) body.saleStartsAt = saleStartsAt;
  if (saleEndsAt) body.saleEndsAt = saleEndsAt;

  const ints: [keyof BasicsDraft & ('holdLimit' | 'holdSeconds' | 'maxHoldSeconds'), number, number, string][] = [
    ['holdLimit', 1, 1000, 'The hold limit is 1 to 1000 seats.'],
    ['holdSeconds', 5, 600, 'The hold time is 5 to 600 seconds.'],
    ['maxHoldSeconds', 5, 86_400, 'The longest hold is 5 to 86400 seconds.'],
  ];
  for (const [key, min, max, message] of ints) {
    const v = optionalInt(d[key], min, max);
    if (v === null) err(key, message);
    else if (v !== undefined) body[key] = v;
  }
  return body;
}

/** Checks the whole form; every problem at once, each with the path of its input. */
export function buildCreateBody(d: EventDraft): BuildResult {
  const errors: FieldError[] = [];
  const err = (path: string, message: string) => errors.push({ path, message });
  const body: CreateEventBody = { ...checkBasics(d, err), categories: [], sections: [] };

  d.categories.forEach((c, i) => {
    const cname = c.name.trim();
    if (!cname) err(`categories.${i}.name`, `Category ${i + 1}: give it a name.`);
    const price = parseMoney(c.price);
    if (price === null) err(`categories.${i}.price`, `Category ${i + 1}: the price is an amount like 45 or 45.50.`);
    if (!/^#[0-9a-f]{6}$/i.test(c.color)) err(`categories.${i}.color`, `Category ${i + 1}: the colour is #rrggbb.`);
    body.categories.push({ id: i + 1, name: cname, price: price ?? 0, color: c.color.toLowerCase() });
  });

  if (d.sections.length === 0) err('sections', 'Add at least one section.');
  d.sections.forEach((s, i) => {
    const sname = s.name.trim();
    if (!sname) err(`sections.${i}.name`, `Section ${i + 1}: give it a name.`);
    if (s.rows.length === 0) err(`sections.${i}.rows`, `Section ${i + 1}: add at least one row.`);
    const labels = new Set<string>();
    const rows: CreateEventBody['sections'][number]['rows'] = [];
    s.rows.forEach((r, j) => {
      const at = `sections.${i}.rows.${j}`;
      const where = `${sname || `Section ${i + 1}`}, row ${j + 1}`;
      const label = r.label.trim();
      if (!/^[A-Za-z0-9]{1,4}$/.test(label)) err(`${at}.label`, `${where}: the label is 1 to 4 letters or digits.`);
      else if (labels.has(label)) err(`${at}.label`, `${where}: row ${label} is already in this section.`);
      labels.add(label);
      const seats = optionalInt(r.seats, 1, MAX_SEATS_PER_ROW);
      if (seats === null || seats === undefined) err(`${at}.seats`, `${where}: 1 to ${MAX_SEATS_PER_ROW} seats.`);
      const n = seats ?? MAX_SEATS_PER_ROW;
      const row: CreateEventBody['sections'][number]['rows'][number] = { label, seats: seats ?? 0 };
      if (r.category !== '') {
        const c = Number(r.category);
        if (!Number.isInteger(c) || c < 1 || c > d.categories.length) err(`${at}.category`, `${where}: choose a category from the list.`);
        else row.category = c;
      }
      for (const [key, field] of [['accessible', 'accessible'], ['companions', 'companions'], ['blocked', 'blocked']] as const) {
        const list = parseSeatList(r[key], n);
        if (list === null) err(`${at}.${key}`, `${where}: ${key} seats are numbers 1 to ${n}, like "1, 2, 5-7".`);
        else if (list.length) row[field] = list;
      }
      rows.push(row);
    });
    body.sections.push({ id: i + 1, name: sname, rows });
  });

  return errors.length ? { ok: false, errors } : { ok: true, body };
}

/** An ISO time as a datetime-local value in UTC ("2027-06-01T19:30"); '' for none. */
export function isoToLocal(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : new Date(t).toISOString().slice(0, 16);
}

/** An event's own fields as the edit form shows them. */
export function basicsOf(e: AdminEvent): BasicsDraft {
  const n = (x: unknown) => (typeof x === 'number' ? String(x) : '');
  return {
    name: e.name ?? '',
    venue: e.venue ?? '',
    startsAt: isoToLocal(e.startsAt),
    saleStartsAt: isoToLocal(e.saleStartsAt),
    saleEndsAt: isoToLocal(e.saleEndsAt),
    holdLimit: n(e.holdLimit),
    holdSeconds: n(e.holdSeconds),
    maxHoldSeconds: n(e.maxHoldSeconds),
  };
}

export type PatchBody = Partial<Omit<Basics, 'saleStartsAt' | 'saleEndsAt'>> & { saleStartsAt?: string | null; saleEndsAt?: string | null };

export type PatchResult = { ok: true; body: PatchBody } | { ok: false; errors: FieldError[] };

/**
 * The body of PATCH /admin/events/{id}: only the fields that differ from
 * what the form started with; a sale time emptied is sent as null (no
 * limit). Nothing changed is an error of its own.
 */
export function buildPatchBody(before: BasicsDraft, after: BasicsDraft): PatchResult {
  const errors: FieldError[] = [];
  const checked = checkBasics(after, (path, message) => errors.push({ path, message }));
  if (errors.length) return { ok: false, errors };
  const was = checkBasics(before, () => {});
  const body: PatchBody = {};
  for (const k of ['name', 'venue', 'startsAt', 'holdLimit', 'holdSeconds', 'maxHoldSeconds'] as const) {
    if (checked[k] !== undefined && checked[k] !== was[k]) (body as Record<string, unknown>)[k] = checked[k];
  }
  for (const k of ['saleStartsAt', 'saleEndsAt'] as const) {
    if (checked[k] !== was[k]) body[k] = checked[k] ?? null;
  }
  return Object.keys(body).length ? { ok: true, body } : { ok: false, errors: [{ path: 'name', message: 'Nothing changed.' }] };
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** GET /admin/events: a list of events (or {"events": [...]}); entries without an id are left out. */
export function parseAdminEvents(body: unknown): AdminEvent[] {
  const list = Array.isArray(body) ? body : isObj(body) && Array.isArray(body.events) ? body.events : [];
  return list.filter((e): e is AdminEvent => isObj(e) && typeof e.id === 'number');
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  eventId: number | null;
  /** The rest of the entry, as compact JSON. */
  details: string;
}

const str = (x: unknown) => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : '');

/**
 * GET /admin/audit: a list of entries (or {"entries"|"items"|"audit": [...]}),
 * each read for its time, who, what and which event; everything else is
 * shown as details.
 */
export function parseAudit(body: unknown): AuditEntry[] {
  let list: unknown[] = [];
  if (Array.isArray(body)) list = body;
  else if (isObj(body)) list = [body.entries, body.items, body.audit].find(Array.isArray) ?? [];
  return list.filter(isObj).map((e) => {
    const { at, time, createdAt, actor, who, action, kind, eventId, details, id: _id, ...rest } = e;
    const extra = details !== undefined ? details : Object.keys(rest).length ? rest : null;
    return {
      at: str(at ?? time ?? createdAt),
      actor: str(actor ?? who),
      action: str(action ?? kind),
      eventId: typeof eventId === 'number' ? eventId : null,
      details: extra === null ? '' : typeof extra === 'string' ? extra : JSON.stringify(extra),
    };
  });
}

/** An admin API refusal in words; the server's message for anything without advice of its own. */
export function adminErrorText(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? `Could not reach ticketd: ${err.message}` : String(err);
  switch (err.code) {
    case 'UNAUTHORIZED':
      return 'ticketd wants the admin key: paste it above.';
    case 'FORBIDDEN':
      return 'ticketd refused the admin key: it is not this node\'s key, or this page is not opened from the machine itself (the admin API answers loopback clients only).';
    case 'VALIDATION_FAILED': {
      const field = typeof err.details?.field === 'string' ? err.details.field : null;
      return field ? `ticketd did not accept ${field}: ${err.message}` : err.message;
    }
    case 'NOT_FOUND':
    case 'METHOD_NOT_ALLOWED':
      return `This ticketd has no such admin route (${err.message}). Is it a version with the admin API?`;
    default:
      return err.message;
  }
}
