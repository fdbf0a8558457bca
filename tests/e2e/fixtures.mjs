// Fixtures for the browser tests of issue 17's page features (categories,
// sections, accessible, companion and blocked seats, the sale window, the
// admin page). The ticketd fields and admin routes they need land on another
// branch; until then these tests serve them with playwright-core's
// page.route, in exactly the agreed shapes, while the page itself (and
// POST /api/sessions) comes from the real ticketd. Event ids 9001..9003
// exist only here.

export const CATEGORIES = [
  { id: 1, name: 'Premium', price: 15000, color: '#b03a2e' },
  { id: 2, name: 'Standard', price: 8000, color: '#1f618d' },
];
export const SECTIONS = [
  { id: 1, name: 'Stalls' },
  { id: 2, name: 'Balcony' },
];
export const ROWS = 4;
export const COLS = 6;

/**
 * A 4 x 6 map: rows A-B are the Stalls (A Premium, B Standard), C-D the
 * Balcony (Standard). A1 is a wheelchair space, A2 its companion seat, A6
 * blocked, B2 sold, B3 held by someone else.
 */
export function seatMap(eventId, version = 1) {
  const seats = [];
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS; c++) {
      const id = r * COLS + c;
      const s = {
        id,
        r,
        c,
        label: `${'ABCD'[r]}${c + 1}`,
        price: r === 0 ? 15000 : 8000,
        status: 'AVAILABLE',
        section: r < 2 ? 1 : 2,
        category: r === 0 ? 1 : 2,
      };
      if (id === 0) s.accessible = true;
      if (id === 1) s.companion = true;
      if (id === 5) s.status = 'BLOCKED';
      if (id === 7) s.status = 'SOLD';
      if (id === 8) s.status = 'HELD';
      seats.push(s);
    }
  }
  return { eventId, rows: ROWS, cols: COLS, version, categories: CATEGORIES, sections: SECTIONS, seats };
}

export function eventSummary(eventId, extra = {}) {
  return {
    id: eventId,
    name: `Fixture Hall ${eventId}`,
    venue: 'Test Venue',
    startsAt: '2030-05-01T19:30:00.000Z',
    rows: ROWS,
    cols: COLS,
    available: 20,
    held: 1,
    sold: 1,
    saleStartsAt: null,
    saleEndsAt: null,
    categories: CATEGORIES,
    sections: SECTIONS,
    ...extra,
  };
}

/** Answers a route with JSON. */
export function json(route, status, body, headers = {}) {
  return route.fulfill({
    status,
    contentType: 'application/json',
    headers: { 'Trace-Id': '0123456789abcdef0123456789abcdef', ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  });
}

/** An error in the format of docs/api.md. */
export function apiError(route, status, code, message, details) {
  return json(route, status, { code, message, traceId: '0123456789abcdef0123456789abcdef', ...(details ? { details } : {}) });
}

/** A seat stream that sends one snapshot (the browser reconnects after it ends, and gets it again). */
export function snapshotStream(route, map) {
  return route.fulfill({
    status: 200,
    contentType: 'text/event-stream',
    headers: { 'Cache-Control': 'no-store' },
    body: `retry: 60000\nevent: snapshot\nid: ${map.version}\ndata: ${JSON.stringify(map)}\n\n`,
  });
}
