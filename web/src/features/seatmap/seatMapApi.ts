import { api } from '../../shared/http';
import type { SeatMapBody } from './seatMapState';

export function getSeatMap(eventId: number, signal?: AbortSignal): Promise<SeatMapBody> {
  return api<SeatMapBody>(`/api/events/${eventId}/seats`, { auth: false, signal });
}
