import { api } from '../../shared/http';

export interface Hold {
  eventId: number;
  seatId: number;
  expiresAt: string;
}

export interface HoldGranted {
  eventId: number;
  seatIds: number[];
  expiresAt: string;
  holdSeconds: number;
}

/** POST /api/reservations: all or nothing. */
export function holdSeats(eventId: number, seatIds: number[], holdSeconds?: number): Promise<HoldGranted> {
  return api<HoldGranted>('/api/reservations', {
    method: 'POST',
    body: holdSeconds === undefined ? { eventId, seatIds } : { eventId, seatIds, holdSeconds },
  });
}

/** GET /api/reservations: this session's live holds (not seats already in an order). */
export function listHolds(signal?: AbortSignal): Promise<Hold[]> {
  return api<Hold[]>('/api/reservations', { signal });
}

export function extendHold(eventId: number, seatId: number, seconds: number): Promise<Hold> {
  return api<Hold>(`/api/reservations/${eventId}/${seatId}/extend`, { method: 'POST', body: { seconds } });
}

export function releaseHold(eventId: number, seatId: number): Promise<void> {
  return api<void>(`/api/reservations/${eventId}/${seatId}`, { method: 'DELETE' });
}
