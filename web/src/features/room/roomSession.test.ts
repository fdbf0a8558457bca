// The room's state machine against a fake fetch (through the page's real
// http wrapper and roomApi) and a fake EventSource, on fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useTokenSource } from '../../shared/http';
import { roomApi } from './roomApi';
import { createRoomSession, HEARTBEAT_MS, POLL_MAX_MS, POLL_MIN_MS, type EventSourceLike, type RoomSession, type RoomView } from './roomSession';
import { MemoryStorage } from '../../testing/memoryStorage';

class FakeEventSource implements EventSourceLike {
  static all: FakeEventSource[] = [];
  readyState = 0;
  closed = false;
  private listeners = new Map<string, ((ev: MessageEvent<string>) => void)[]>();
  constructor(readonly url: string) {
    FakeEventSource.all.push(this);
  }
  addEventListener(type: string, fn: (ev: MessageEvent<string>) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  emit(type: string, data?: unknown) {
    if (type === 'open') this.readyState = 1;
    if (type === 'error') this.readyState = 2;
    const ev = { data: data === undefined ? '' : JSON.stringify(data) } as MessageEvent<string>;
    for (const fn of this.listeners.get(type) ?? []) fn(ev);
  }
  static last(): FakeEventSource {
    return FakeEventSource.all[FakeEventSource.all.length - 1];
  }
}

interface Call {
  method: string;
  url: string;
  body: unknown;
  auth: string | null;
}

/** A fake server: each call takes the next scripted answer for its "METHOD path". */
function fakeServer() {
  const calls: Call[] = [];
  const script = new Map<string, Array<[number, unknown]>>();
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const method = init.method ?? 'GET';
    const headers = init.headers as Record<string, string>;
    calls.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : undefined, auth: headers.Authorization ?? null });
    const key = `${method} ${url.replace(/\?.*$/, '')}`;
    const queue = script.get(key) ?? [];
    const next = queue.length > 1 ? queue.shift()! : queue[0];
    if (!next) return new Response(JSON.stringify({ code: 'NOT_FOUND', message: 'no such route', traceId: 't' }), { status: 404 });
    const [status, body] = next;
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  });
  return {
    calls,
    fetch,
    /** Answers for "METHOD /path"; the last one repeats. */
    on(key: string, ...answers: Array<[number, unknown]>) {
      script.set(key, answers);
    },
  };
}

const EV = 7;
const ROOM = `/api/events/${EV}/room`;
const T1 = 'v1.7.12.1764244800000.4f2a';
const waiting = (position: number, extra: Record<string, unknown> = {}) => ({
  eventId: EV, state: 'waiting', ticket: T1, position, estimatedWaitSeconds: position * 2, startsAt: null, rate: 0.5, ...extra,
});
const admitted = { eventId: EV, state: 'admitted', ticket: T1, admittedUntil: '2026-11-27T12:10:00Z' };
const err = (code: string, message = code) => ({ code, message, traceId: 'tr' });

let server: ReturnType<typeof fakeServer>;
let storage: MemoryStorage;
let views: RoomView[];
let session: RoomSession;

function start(): RoomSession {
  session = createRoomSession(EV, {
    api: roomApi,
    openStream: (url) => new FakeEventSource(url),
    storage,
    onView: (v) => views.push(v),
  });
  session.start();
  return session;
}
const kinds = () => views.map((v) => v.kind);
const lastView = () => views[views.length - 1];
const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
  server = fakeServer();
  vi.stubGlobal('fetch', server.fetch);
  useTokenSource({ token: async () => 'a'.repeat(32), current: () => ({ token: 'a'.repeat(32) }), invalidate() {} });
  storage = new MemoryStorage();
  views = [];
  FakeEventSource.all = [];
});
afterEach(() => {
  session?.close();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('room session', () => {
  it('open_goes_straight_to_the_seat_map', async () => {
    server.on(`POST ${ROOM}`, [200, { eventId: EV, state: 'open' }]);
    start();
    await flush();
    expect(kinds()).toEqual(['open']);
    expect(server.calls[0]).toMatchObject({ method: 'POST', url: ROOM, body: {}, auth: `Bearer ${'a'.repeat(32)}` });
    expect(FakeEventSource.all).toHaveLength(0);
    expect(session.ticket()).toBeNull();
  });

  it('a_server_without_the_room_answers_404_and_the_map_opens', async () => {
    start();
    await flush();
    expect(kinds()).toEqual(['open']);
  });

  it('waiting_follows_the_stream_and_moves_to_the_map_when_admitted', async () => {
    server.on(`POST ${ROOM}`, [200, waiting(40)]);
    start();
    await flush();
    expect(lastView()).toMatchObject({ kind: 'waiting', position: 40, startPosition: 40, estimatedWaitSeconds: 80 });
    const es = FakeEventSource.last();
    // EventSource sends no header: the session goes in the query, as ticketd takes it.
    expect(es.url).toBe(`${ROOM}/stream?ticket=${encodeURIComponent(T1)}&token=${'a'.repeat(32)}`);
    es.emit('open');
    expect(lastView()).toMatchObject({ kind: 'waiting', link: 'stream' });
    es.emit('position', { position: 10, estimatedWaitSeconds: 20, state: 'waiting' });
    expect(lastView()).toMatchObject({ kind: 'waiting', position: 10, startPosition: 40, estimatedWaitSeconds: 20 });
    // The ticket and the starting place survive a reload.
    expect(JSON.parse(storage.getItem(`ticketing.room.${EV}`)!)).toEqual({ ticket: T1, startPosition: 40 });
    es.emit('admitted', { admittedUntil: '2026-11-27T12:10:00Z' });
    expect(lastView()).toEqual({ kind: 'admitted', admittedUntil: '2026-11-27T12:10:00Z' });
    expect(es.closed).toBe(true);
    expect(session.ticket()).toBe(T1);
  });

  it('a_reload_rejoins_with_the_stored_ticket', async () => {
    storage.setItem(`ticketing.room.${EV}`, JSON.stringify({ ticket: T1, startPosition: 50 }));
    server.on(`POST ${ROOM}`, [200, waiting(20)]);
    start();
    await flush();
    expect(server.calls[0].body).toEqual({ ticket: T1 });
    // Progress stays measured from where the visitor first stood.
    expect(lastView()).toMatchObject({ kind: 'waiting', position: 20, startPosition: 50 });
  });

  it('a_refused_ticket_is_dropped_and_the_visitor_joins_afresh', async () => {
    storage.setItem(`ticketing.room.${EV}`, JSON.stringify({ ticket: 'v1.7.1.1.old', startPosition: 3 }));
    server.on(`POST ${ROOM}`, [403, err('QUEUE_TICKET_INVALID')], [200, waiting(9)]);
    start();
    await flush();
    expect(server.calls.map((c) => c.body)).toEqual([{ ticket: 'v1.7.1.1.old' }, {}]);
    expect(lastView()).toMatchObject({ kind: 'waiting', position: 9, startPosition: 9 });
  });

  it('stream_error_falls_back_to_polling_with_backoff_then_admits', async () => {
    server.on(`POST ${ROOM}`, [200, waiting(5)]);
    server.on(`GET ${ROOM}`, [200, waiting(4)], [503, err('OVERLOADED')], [503, err('OVERLOADED')], [503, err('OVERLOADED')], [200, admitted]);
    start();
    await flush();
    FakeEventSource.last().emit('error');
    expect(FakeEventSource.last().closed).toBe(true);
    await flush(); // the first poll goes at once
    const polls = () => server.calls.filter((c) => c.method === 'GET');
    expect(polls()).toHaveLength(1);
    expect(polls()[0].url).toBe(`${ROOM}?ticket=${encodeURIComponent(T1)}`);
    expect(lastView()).toMatchObject({ kind: 'waiting', position: 4, link: 'polling' });
    await vi.advanceTimersByTimeAsync(POLL_MIN_MS - 1);
    expect(polls()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // 2 s after a good poll
    expect(polls()).toHaveLength(2); // 503
    await vi.advanceTimersByTimeAsync(2_999);
    expect(polls()).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // 3 s after one failure
    expect(polls()).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(4_500); // 4.5 s after two
    expect(polls()).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(POLL_MAX_MS - 1); // never longer than 5 s
    expect(polls()).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(polls()).toHaveLength(5);
    expect(lastView()).toMatchObject({ kind: 'admitted' });
  });

  it('the_stream_is_tried_again_and_polling_stops_when_it_opens', async () => {
    server.on(`POST ${ROOM}`, [200, waiting(5)]);
    server.on(`GET ${ROOM}`, [200, waiting(5)]);
    start();
    await flush();
    FakeEventSource.last().emit('error');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(FakeEventSource.all).toHaveLength(2);
    FakeEventSource.last().emit('open');
    const before = server.calls.length;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(server.calls.length).toBe(before);
    expect(lastView()).toMatchObject({ kind: 'waiting', link: 'stream' });
  });

  it('queue_required_from_the_map_goes_back_to_the_room', async () => {
    server.on(`POST ${ROOM}`, [200, { eventId: EV, state: 'open' }], [200, waiting(3)]);
    start();
    await flush();
    expect(kinds()).toEqual(['open']);
    session.queueRequired();
    await flush();
    expect(kinds()).toEqual(['open', 'joining', 'waiting']);
    expect(FakeEventSource.all).toHaveLength(1);
  });

  it('repeated_refusals_back_off_instead_of_looping', async () => {
    server.on(`POST ${ROOM}`, [200, admitted]);
    start();
    await flush();
    session.queueRequired();
    await flush();
    const posts = () => server.calls.filter((c) => c.method === 'POST').length;
    expect(posts()).toBe(2);
    session.queueRequired();
    await flush();
    expect(posts()).toBe(2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(posts()).toBe(3);
  });

  it('an_admitted_visitor_sends_a_heartbeat_and_returns_to_the_room_if_it_lost_its_place', async () => {
    server.on(`POST ${ROOM}`, [200, admitted]);
    server.on(`GET ${ROOM}`, [200, admitted], [200, waiting(2)]);
    start();
    await flush();
    expect(kinds()).toEqual(['admitted']);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(server.calls.filter((c) => c.method === 'GET')).toHaveLength(1);
    expect(lastView().kind).toBe('admitted');
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(lastView()).toMatchObject({ kind: 'waiting', position: 2 });
  });

  it('a_failing_join_retries_with_backoff', async () => {
    server.on(`POST ${ROOM}`, [503, err('OVERLOADED', 'busy')], [503, err('OVERLOADED', 'busy')], [200, waiting(1)]);
    start();
    await flush();
    expect(lastView()).toMatchObject({ kind: 'retrying', retryInMs: 2_000 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lastView()).toMatchObject({ kind: 'retrying', retryInMs: 4_000 });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(lastView()).toMatchObject({ kind: 'waiting', position: 1 });
  });

  it('the_room_switched_off_while_waiting_opens_the_map_and_forgets_the_ticket', async () => {
    server.on(`POST ${ROOM}`, [200, waiting(8)]);
    server.on(`GET ${ROOM}`, [200, { eventId: EV, state: 'open' }]);
    start();
    await flush();
    FakeEventSource.last().emit('open');
    FakeEventSource.last().emit('position', { position: 8, state: 'open' });
    await flush();
    expect(lastView().kind).toBe('open');
    expect(storage.getItem(`ticketing.room.${EV}`)).toBeNull();
  });

  it('close_stops_everything', async () => {
    server.on(`POST ${ROOM}`, [200, waiting(8)]);
    start();
    await flush();
    session.close();
    expect(FakeEventSource.last().closed).toBe(true);
    const n = server.calls.length;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(server.calls.length).toBe(n);
  });
});
