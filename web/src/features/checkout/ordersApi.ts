import { api } from '../../shared/http';

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED';

export interface Order {
  orderId: string;
  status: OrderStatus;
  eventId: number;
  seatIds: number[];
  amount: number;
  createdAt: string;
  paymentDeadline: string;
  reason?: string;
}

export interface PaymentResult {
  orderId: string;
  paymentId: string;
  status: 'APPROVED' | 'DECLINED';
}

export type Simulate = 'approve' | 'decline';

/** POST /api/orders; the same key and body always give back the same order. */
export function createOrder(idempotencyKey: string, eventId: number, seatIds: number[]): Promise<Order> {
  return api<Order>('/api/orders', {
    method: 'POST',
    headers: { 'Idempotency-Key': idempotencyKey },
    body: { eventId, seatIds },
  });
}

export function getOrder(orderId: string, signal?: AbortSignal): Promise<Order> {
  return api<Order>(`/api/orders/${encodeURIComponent(orderId)}`, { signal });
}

export function authorizePayment(orderId: string, simulate?: Simulate): Promise<PaymentResult> {
  return api<PaymentResult>('/api/payments/authorize', {
    method: 'POST',
    body: simulate ? { orderId, simulate } : { orderId },
  });
}
