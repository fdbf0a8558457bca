import { api } from '../../shared/http';
import type { Category, Section } from '../seatmap/seatMapState';

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
  /** When holds open and close (ISO); null or absent: no limit. */
  saleStartsAt?: string | null;
  saleEndsAt?: string | null;
  /** Empty or absent on events without them (the demo events). */
  categories?: Category[];
  sections?: Section[];
}

export function listEvents(signal?: AbortSignal): Promise<EventSummary[]> {
  return api<EventSummary[]>('/api/events', { auth: false, signal });
}

export function getEvent(id: number, signal?: AbortSignal): Promise<EventSummary> {
  return api<EventSummary>(`/api/events/${id}`, { auth: false, signal });
}
