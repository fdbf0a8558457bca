// A small stand-in for ticketd, for room_flow.test.mjs's fake mode only: it
// serves web/dist and answers the calls the page makes, with a waiting room
// as HELPERS.md / docs/api.md describe it, driven by the test (positions
// move when the test says so). Not a model of ticketd's queue: just enough
// to see the page's waiting-room view work in Chromium before the real
// room is merged. Loopback only, one port the OS picks.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

// The same policy ticketd sends with the page (api/http_server.c PAGE_CSP).
const CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const ROWS = 4;
const COLS = 8;

function seatsOf(eventId) {
  const seats = [];
  for (let r = 0; r < ROWS; r++)
    for (let c = 0; c < COLS; c++)
      seats.push({ id: r * COLS + c + 1, r, c, label: `${String.fromCharCode(65 + r)}${c + 1}`, price: 4500, status: 'AVAILABLE' });
  return { eventId, rows: ROWS, cols: COLS, version: 1, seats };
}

export async function startFakeServer(distDir) {
  const events = [
    { id: 1, name: 'Room Night (waiting room on)', venue: 'Fake Hall', startsAt: '2027-03-01T19:30:00Z', rows: ROWS, cols: COLS, available: ROWS * COLS, held: 0, sold: 0 },
    { id: 2, name: 'Quiet Matinee (no room)', venue: 'Fake Hall', startsAt: '2027-03-02T15:00:00Z', rows: ROWS, cols: COLS, available: ROWS * COLS, held: 0, sold: 0 },
  ];
  /** The room of event 1; event 2 has none. */
  const room = { enabled: true, startsAt: null, nextPosition: 5, streamDown: false };
  /** token -> { ticket, position, admitted } */
  const visitors = new Map();
  const tickets = new Map(); // ticket -> token
  const streams = new Set(); // open SSE responses: { res, kind, token }
  const log = [];
  let seq = 0;

  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Trace-Id': 'fake', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const error = (res, status, code, message, details) => json(res, status, { code, message, traceId: 'fake', details });
  const bearer = (req) => /^Bearer ([0-9a-f]{32})$/i.exec(req.headers.authorization ?? '')?.[1] ?? null;
  // A stream's session as ticketd takes it: the header, or (EventSource
  // cannot send one) the token query argument.
  const streamSession = (req, url) => bearer(req) ?? (/^[0-9a-f]{32}$/i.exec(url.searchParams.get('token') ?? '')?.[0] ?? null);
  const waitSeconds = (p) => p * 2;

  function answer(eventId, v) {
    if (!room.enabled) return { eventId, state: 'open' };
    if (v.admitted) return { eventId, state: 'admitted', ticket: v.ticket, admittedUntil: new Date(Date.now() + 600_000).toISOString() };
    return {
      eventId,
      state: 'waiting',
      ticket: v.ticket,
      position: v.position,
      estimatedWaitSeconds: waitSeconds(v.position),
      startsAt: room.startsAt,
      rate: 0.5,
    };
  }

  function sse(res, event, data) {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends every open room stream its visitor's place; admits those at 0. */
  function tick() {
    for (const s of streams) {
      if (s.kind !== 'room') continue;
      const v = visitors.get(s.token);
      if (!v) continue;
      if (v.admitted || !room.enabled) {
        if (v.admitted) sse(s.res, 'admitted', { admittedUntil: new Date(Date.now() + 600_000).toISOString() });
        else sse(s.res, 'position', { position: 0, estimatedWaitSeconds: 0, state: 'open' });
        s.res.end();
        streams.delete(s);
      } else {
        sse(s.res, 'position', { position: v.position, estimatedWaitSeconds: waitSeconds(v.position), state: 'waiting' });
      }
    }
  }
  const ticker = setInterval(tick, 500);

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    let body = '';
    for await (const chunk of req) body += chunk;
    log.push({ method: req.method, path, query: url.search, body, auth: bearer(req) });

    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      const html = await readFile(join(distDir, 'index.html'));
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
      return res.end(html);
    }
    if (req.method === 'GET' && path.startsWith('/assets/')) {
      const name = basename(path);
      try {
        const data = await readFile(join(distDir, 'assets', name));
        const type = name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'application/octet-stream';
        res.writeHead(200, { 'Content-Type': type });
        return res.end(data);
      } catch {
        return error(res, 404, 'NOT_FOUND', 'no such file');
      }
    }
    if (path === '/readyz') return json(res, 200, { ready: true });
    if (req.method === 'POST' && path === '/api/sessions') {
      const token = randomBytes(16).toString('hex');
      return json(res, 201, { sessionId: token.slice(0, 16), token, expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    }
    if (req.method === 'GET' && path === '/api/events') return json(res, 200, events);
    let m = /^\/api\/events\/(\d+)$/.exec(path);
    if (m && req.method === 'GET') {
      const e = events.find((x) => x.id === Number(m[1]));
      return e ? json(res, 200, e) : error(res, 404, 'EVENT_NOT_FOUND', 'no such event');
    }
    if (req.method === 'GET' && path === '/api/reservations') return bearer(req) ? json(res, 200, []) : error(res, 401, 'UNAUTHORIZED', 'no token');

    m = /^\/api\/events\/(\d+)\/room(\/stream)?$/.exec(path);
    if (m) {
      const eventId = Number(m[1]);
      if (eventId !== 1) return json(res, 200, { eventId, state: 'open' });
      if (m[2]) {
        // The stream: the session (?token= from EventSource) and its ticket.
        const token = streamSession(req, url);
        if (!token) return error(res, 401, 'UNAUTHORIZED', 'no token');
        const asked = url.searchParams.get('ticket');
        if (asked && tickets.get(asked) !== token) return error(res, 403, 'QUEUE_TICKET_INVALID', 'this ticket is not valid');
        if (!visitors.has(token)) return error(res, 404, 'NOT_IN_QUEUE', 'this session is not in the queue');
        if (room.streamDown) return error(res, 503, 'OVERLOADED', 'busy', undefined);
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
        res.write(': hello\n\n');
        const s = { res, kind: 'room', token };
        streams.add(s);
        req.on('close', () => streams.delete(s));
        return tick();
      }
      const token = bearer(req);
      if (!token) return error(res, 401, 'UNAUTHORIZED', 'no token');
      if (req.method === 'POST') {
        let v = visitors.get(token);
        if (!v) {
          let asked = null;
          try {
            asked = body ? JSON.parse(body).ticket ?? null : null;
          } catch {
            return error(res, 400, 'BAD_REQUEST', 'body is not JSON');
          }
          if (asked && tickets.get(asked) !== token) return error(res, 403, 'QUEUE_TICKET_INVALID', 'this ticket belongs to another session');
          v = { ticket: `v1.1.${++seq}.${Date.now()}.${randomBytes(8).toString('hex')}`, position: room.nextPosition++, admitted: false };
          visitors.set(token, v);
          tickets.set(v.ticket, token);
        }
        return json(res, 200, answer(eventId, v));
      }
      if (req.method === 'GET') {
        const v = visitors.get(token);
        if (!v || v.ticket !== url.searchParams.get('ticket')) return error(res, 403, 'QUEUE_TICKET_INVALID', 'this ticket is not valid');
        return json(res, 200, answer(eventId, v));
      }
      return error(res, 405, 'METHOD_NOT_ALLOWED', 'no');
    }

    m = /^\/api\/events\/(\d+)\/seats(\/stream)?$/.exec(path);
    if (m && req.method === 'GET') {
      const eventId = Number(m[1]);
      const token = m[2] ? streamSession(req, url) : bearer(req);
      const v = token ? visitors.get(token) : null;
      if (eventId === 1 && room.enabled && !v?.admitted)
        return error(res, 403, 'QUEUE_REQUIRED', 'this event has a waiting room; join it first', { room: `/api/events/${eventId}/room` });
      if (!m[2]) return json(res, 200, seatsOf(eventId));
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
      sse(res, 'snapshot', seatsOf(eventId));
      const s = { res, kind: 'seats', token };
      streams.add(s);
      req.on('close', () => streams.delete(s));
      return;
    }
    if (req.method === 'POST' && path === '/api/reservations') {
      const token = bearer(req);
      const v = token ? visitors.get(token) : null;
      if (room.enabled && !v?.admitted) return error(res, 403, 'NOT_ADMITTED', 'this event has a waiting room; join it first');
      const { eventId, seatIds } = JSON.parse(body);
      return json(res, 201, { eventId, seatIds, expiresAt: new Date(Date.now() + 300_000).toISOString(), holdSeconds: 300 });
    }
    return error(res, 404, 'NOT_FOUND', 'no such route');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error('fake server:', err);
      if (!res.headersSent) error(res, 500, 'INTERNAL', String(err));
      else res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    room,
    log,
    visitors,
    /** Every waiting visitor moves one place forward; those at 0 are admitted. */
    advance() {
      for (const v of visitors.values()) {
        if (v.admitted) continue;
        if (v.position > 0) v.position--;
        if (v.position === 0) v.admitted = true;
      }
      tick();
    },
    /** Ends every open room stream (a restart, a proxy cutting idle streams). */
    cutRoomStreams() {
      for (const s of streams) {
        if (s.kind !== 'room') continue;
        s.res.end();
        streams.delete(s);
      }
    },
    /** Takes a visitor's admission away and cuts its seat stream (as a server that lost it would). */
    revoke(ticket) {
      const token = tickets.get(ticket);
      const v = token && visitors.get(token);
      if (!v) return;
      v.admitted = false;
      v.position = 2;
      for (const s of streams) {
        if (s.kind === 'seats' && s.token === token) {
          s.res.end();
          streams.delete(s);
        }
      }
    },
    async close() {
      clearInterval(ticker);
      for (const s of streams) s.res.end();
      streams.clear();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
