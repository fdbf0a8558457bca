// The tickets of a CONFIRMED order (docs/tickets.md): their signed text and
// QR images. The images need the Authorization header too, so they come
// through fetch as blobs, never as a plain <img src>.
import { api, apiBlob } from '../../shared/http';

export interface Ticket {
  seatId: number;
  seatLabel: string;
  /** The seat's place in the order, from 1. */
  serial: number;
  /** The signed ticket text, v1.<eventId>.<seatId>.<orderId>.<serial>.<sig>. */
  ticket: string;
  /** Path of the QR code as a PNG. */
  png: string;
  /** Path of the QR code as an SVG. */
  svg: string;
}

export interface OrderTickets {
  orderId: string;
  eventId: number;
  tickets: Ticket[];
}

/** GET /api/orders/{id}/tickets: 409 ORDER_NOT_CONFIRMED while the order is not CONFIRMED. */
export function getTickets(orderId: string, signal?: AbortSignal): Promise<OrderTickets> {
  return api<OrderTickets>(`/api/orders/${encodeURIComponent(orderId)}/tickets`, { signal });
}

/**
 * Is this a QR image path of this order on our own server? The session
 * token goes only there, whatever a response body says.
 */
export function isTicketImagePath(path: string, orderId: string): boolean {
  const prefix = `/api/orders/${encodeURIComponent(orderId)}/tickets/`;
  return path.startsWith(prefix) && /^\d+\.(png|svg)$/.test(path.slice(prefix.length));
}

/** A ticket's QR code (the PNG) as a Blob, with the session token. */
export function getTicketImage(orderId: string, path: string, signal?: AbortSignal): Promise<Blob> {
  if (!isTicketImagePath(path, orderId)) return Promise.reject(new Error(`not a ticket image of order ${orderId}: ${path}`));
  return apiBlob(path, { signal, headers: { Accept: 'image/png,image/svg+xml' } });
}
