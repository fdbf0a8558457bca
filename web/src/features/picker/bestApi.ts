import { api } from '../../shared/http';
import type { HoldGranted } from '../cart/holdsApi';
import type { BestRequest } from './pickerModel';

/** The answer of POST /api/reservations/best: a hold like POST /api/reservations, plus whether the seats sit together. */
export interface BestGranted extends HoldGranted {
  together: boolean;
}

/** POST /api/reservations/best: the server picks and holds, all or nothing. */
export function holdBest(body: BestRequest): Promise<BestGranted> {
  return api<BestGranted>('/api/reservations/best', { method: 'POST', body });
}
