import { api } from '../../shared/http';

export interface EventSummary {
  id: number;
  name: string;
  venue: string;
  startsAt: string;
  rows: number;
  cols: number;
  available: number;
  held: number;
  sold: number;
}

export function listEvents(signal?: AbortSignal): Promise<EventSummary[]> {
  return api<EventSummary[]>('/api/events', { auth: false, signal });
}

export function getEvent(id: number, signal?: AbortSignal): Promise<EventSummary> {
  return api<EventSummary>(`/api/events/${id}`, { auth: false, signal });
}
