// Hidden development toggle: `?dev=approve` or `?dev=decline` in the page's
// URL forces the simulated payment's outcome. Only a ticketd started with
// --dev-mode accepts it; any other server answers 422.
import type { Simulate } from './ordersApi';

export function devSimulate(search: string): Simulate | undefined {
  const v = new URLSearchParams(search).get('dev');
  return v === 'approve' || v === 'decline' ? v : undefined;
}
