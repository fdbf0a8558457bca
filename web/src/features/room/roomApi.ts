// The waiting room's REST calls (session token as everywhere) and its
// stream's address. EventSource cannot send the token's header: the stream
// carries it as `token=`, beside the queue ticket.
import { api, streamTokenQuery } from '../../shared/http';

export interface RoomApi {
  /** POST /api/events/{id}/room: join, or rejoin with a ticket kept from before a reload. */
  join(eventId: number, ticket: string | null, signal?: AbortSignal): Promise<unknown>;
  /** GET /api/events/{id}/room?ticket=: a poll, and the heartbeat of an admitted visitor. */
  poll(eventId: number, ticket: string, signal?: AbortSignal): Promise<unknown>;
  /** The URL of GET /api/events/{id}/room/stream?ticket=&token=. */
  streamUrl(eventId: number, ticket: string): string;
}

export const roomApi: RoomApi = {
  join(eventId, ticket, signal) {
    return api<unknown>(`/api/events/${eventId}/room`, {
      method: 'POST',
      body: ticket ? { ticket } : {},
      signal,
    });
  },
  poll(eventId, ticket, signal) {
    return api<unknown>(`/api/events/${eventId}/room?ticket=${encodeURIComponent(ticket)}`, { signal });
  },
  streamUrl(eventId, ticket) {
    const token = streamTokenQuery();
    return `/api/events/${eventId}/room/stream?ticket=${encodeURIComponent(ticket)}${token ? `&${token}` : ''}`;
  },
};
