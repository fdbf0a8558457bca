// The admin API (loopback only, Authorization: Bearer <admin key>), through
// the page's one fetch wrapper (error body -> ApiError, busy retries), with
// the admin key instead of the buyer's session token.
import { api } from '../../shared/http';
import type { EventSummary } from '../events/eventsApi';
import { parseAdminEvents, parseAudit, type AuditEntry, type CreateEventBody, type PatchBody } from './adminModel';

export type EventState = 'DRAFT' | 'PUBLISHED' | 'CANCELLED';

export interface AdminEvent extends EventSummary {
  state: EventState | string;
  holdLimit?: number;
  holdSeconds?: number;
  maxHoldSeconds?: number;
}

function call<T>(key: string, path: string, method = 'GET', body?: unknown, signal?: AbortSignal): Promise<T> {
  return api<T>(path, { method, body, auth: false, headers: { Authorization: `Bearer ${key}` }, signal });
}

export const adminApi = {
  async listEvents(key: string, signal?: AbortSignal): Promise<AdminEvent[]> {
    return parseAdminEvents(await call<unknown>(key, '/admin/events', 'GET', undefined, signal));
  },
  createEvent(key: string, body: CreateEventBody): Promise<AdminEvent> {
    return call<AdminEvent>(key, '/admin/events', 'POST', body);
  },
  patchEvent(key: string, id: number, body: PatchBody): Promise<AdminEvent> {
    return call<AdminEvent>(key, `/admin/events/${id}`, 'PATCH', body);
  },
  publish(key: string, id: number): Promise<AdminEvent> {
    return call<AdminEvent>(key, `/admin/events/${id}/publish`, 'POST', {});
  },
  cancel(key: string, id: number): Promise<AdminEvent> {
    return call<AdminEvent>(key, `/admin/events/${id}/cancel`, 'POST', {});
  },
  setBlocked(key: string, id: number, seatIds: number[], blocked: boolean): Promise<unknown> {
    return call<unknown>(key, `/admin/events/${id}/blocked`, 'PUT', { seatIds, blocked });
  },
  async audit(key: string, eventId: number | null, limit: number, signal?: AbortSignal): Promise<AuditEntry[]> {
    const q = new URLSearchParams();
    if (eventId !== null) q.set('eventId', String(eventId));
    q.set('limit', String(limit));
    return parseAudit(await call<unknown>(key, `/admin/audit?${q}`, 'GET', undefined, signal));
  },
};
