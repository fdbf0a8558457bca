import { api } from '../../shared/http';
import type { SeatMapBody } from './seatMapState';

/**
 * GET /api/events/{id}/seats with the session token: on an event with an
 * active waiting room the server shows the map only to admitted sessions
 * (403 QUEUE_REQUIRED otherwise).
 */
export function getSeatMap(eventId: number, signal?: AbortSignal): Promise<SeatMapBody> {
  return api<SeatMapBody>(`/api/events/${eventId}/seats`, { signal });
}
