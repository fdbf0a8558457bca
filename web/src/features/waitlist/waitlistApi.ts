// The waiting list's REST calls (session token as everywhere) and its
// stream's address (docs/api.md, "Waiting list for sold-out events").
// EventSource cannot send the token's header: the stream carries it as
// `token=`.
import { api, streamTokenQuery } from '../../shared/http';
import type { WaitlistEntry } from './waitlistModel';

/** POST /api/events/{id}/waitlist: 201 joined, 200 already on it. */
export function joinWaitlist(eventId: number, count: number, signal?: AbortSignal): Promise<WaitlistEntry> {
  return api<WaitlistEntry>(`/api/events/${eventId}/waitlist`, { method: 'POST', body: { count }, signal });
}

/** GET /api/events/{id}/waitlist: 404 NOT_ON_WAITLIST when not on it. */
export function getWaitlist(eventId: number, signal?: AbortSignal): Promise<WaitlistEntry> {
  return api<WaitlistEntry>(`/api/events/${eventId}/waitlist`, { signal });
}

/** DELETE /api/events/{id}/waitlist: leaves; the offered seats are given back. */
export function leaveWaitlist(eventId: number): Promise<unknown> {
  return api<unknown>(`/api/events/${eventId}/waitlist`, { method: 'DELETE' });
}

export function waitlistStreamUrl(eventId: number): string {
  const token = streamTokenQuery();
  return `/api/events/${eventId}/waitlist/stream${token ? `?${token}` : ''}`;
}
