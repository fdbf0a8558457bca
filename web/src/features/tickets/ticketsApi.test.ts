import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, useTokenSource } from '../../shared/http';
import { getTicketImage, getTickets, isTicketImagePath } from './ticketsApi';

const TOKEN = 'a'.repeat(32);
const ORDER = 'ord_abc123';
const body = {
  orderId: ORDER,
  eventId: 1,
  tickets: [{ seatId: 12, seatLabel: 'B3', serial: 1, ticket: `v1.1.12.${ORDER}.1.${'x'.repeat(86)}`, png: `/api/orders/${ORDER}/tickets/12.png`, svg: `/api/orders/${ORDER}/tickets/12.svg` }],
};

function json(status: number, b: unknown): Response {
  return new Response(JSON.stringify(b), { status, headers: { 'Content-Type': 'application/json' } });
}

beforeEach(() => {
  useTokenSource({ token: async () => TOKEN, invalidate() {} });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('tickets api', () => {
  it('get_tickets_sends_the_bearer_token_to_the_order_tickets_route', async () => {
    const fetchMock = vi.fn().mockResolvedValue(json(200, body));
    vi.stubGlobal('fetch', fetchMock);
    const got = await getTickets(ORDER);
    expect(got.tickets[0].seatLabel).toBe('B3');
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe(`/api/orders/${ORDER}/tickets`);
    expect(init.headers.Authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('not_confirmed_is_an_api_error_with_the_status', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(409, { code: 'ORDER_NOT_CONFIRMED', message: 'pending', traceId: 't', details: { status: 'PENDING' } })));
    const err = await getTickets(ORDER).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('ORDER_NOT_CONFIRMED');
    expect(err.details).toEqual({ status: 'PENDING' });
  });

  it('the_qr_image_comes_as_a_blob_fetched_with_the_token', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const fetchMock = vi.fn().mockResolvedValue(new Response(png, { status: 200, headers: { 'Content-Type': 'image/png' } }));
    vi.stubGlobal('fetch', fetchMock);
    const blob = await getTicketImage(ORDER, body.tickets[0].png);
    expect(blob.type).toBe('image/png');
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(png);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe(body.tickets[0].png);
    expect(init.headers.Authorization).toBe(`Bearer ${TOKEN}`);
    expect(init.headers.Accept).toMatch(/image\/png/);
  });

  it('a_failed_qr_image_is_an_api_error', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(404, { code: 'TICKET_NOT_FOUND', message: 'no', traceId: 't' })));
    const err = await getTicketImage(ORDER, body.tickets[0].png).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('TICKET_NOT_FOUND');
  });

  it('the_token_never_goes_to_a_path_outside_the_order', async () => {
    const fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    for (const p of ['https://elsewhere.example/x.png', `/api/orders/other/tickets/12.png`, `/api/orders/${ORDER}/tickets/../../x.png`, '//evil/x.png']) {
      expect(isTicketImagePath(p, ORDER)).toBe(false);
      await expect(getTicketImage(ORDER, p)).rejects.toThrow(/not a ticket image/);
    }
    expect(fetchMock).not.toHaveBeenCalled();
    expect(isTicketImagePath(`/api/orders/${ORDER}/tickets/7.svg`, ORDER)).toBe(true);
  });
});
