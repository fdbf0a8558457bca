// The waiting room's state machine for one event page:
//
//   joining ──POST room──▶ open      (no room, or it is off: the seat map)
//                      ├─▶ waiting   (position, estimate; stream, else polls)
//                      ├─▶ admitted  (the seat map; a heartbeat poll keeps the place)
//                      └─▶ retrying  (the call failed: again after a back-off)
//   waiting ──stream `admitted` / poll "admitted"──▶ admitted
//   admitted/open ──seat map answered 403 QUEUE_REQUIRED──▶ joining
//
// The ticket is kept in sessionStorage, so a reload rejoins with it. The
// stream is the live path; when it fails the room is polled every 2-5 s
// (longer after errors) and the stream is tried again after its own back-off.
import { ApiError } from '../../shared/http';
import {
  TicketStore,
  nextStartPosition,
  parsePositionFrame,
  parseRoomAnswer,
  type RoomAnswer,
} from './roomModel';
import type { RoomApi } from './roomApi';

export type RoomLink = 'connecting' | 'stream' | 'polling';

export type RoomView =
  | { kind: 'joining' }
  | { kind: 'open' }
  | {
      kind: 'waiting';
      position: number;
      estimatedWaitSeconds: number | null;
      startsAt: string | null;
      rate: number | null;
      startPosition: number;
      link: RoomLink;
    }
  | { kind: 'admitted'; admittedUntil: string | null }
  | { kind: 'retrying'; error: unknown; retryInMs: number };

/** The parts of EventSource the room uses (a fake one in tests). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (ev: MessageEvent<string>) => void): void;
  close(): void;
}
export type EventSourceFactory = (url: string) => EventSourceLike;

export interface RoomDeps {
  api: RoomApi;
  openStream: EventSourceFactory;
  storage: Storage;
  onView(view: RoomView): void;
}

export interface RoomSession {
  start(): void;
  /** The seat map was refused (403 QUEUE_REQUIRED or NOT_ADMITTED): back to the room. */
  queueRequired(): void;
  /** The ticket to present on the seat stream, if any. */
  ticket(): string | null;
  view(): RoomView;
  close(): void;
}

/** Polling while the stream is down: from this interval ... */
export const POLL_MIN_MS = 2_000;
/** ... growing after failed polls up to this one. */
export const POLL_MAX_MS = 5_000;
/** An admitted visitor's heartbeat (the server's idle timeout is 120 s by default). */
export const HEARTBEAT_MS = 30_000;
const STREAM_RETRY_MIN_MS = 5_000;
const STREAM_RETRY_MAX_MS = 60_000;
const JOIN_RETRY_MIN_MS = 2_000;
const JOIN_RETRY_MAX_MS = 30_000;
/** Repeated refusals by the seat map within this window back off before rejoining. */
const REFUSAL_WINDOW_MS = 30_000;

function isGone(err: unknown): boolean {
  // A server without the room (404 route), an unknown event (the map says so), 405.
  return err instanceof ApiError && (err.status === 404 || err.status === 405);
}

function isBadTicket(err: unknown): boolean {
  return err instanceof ApiError && (err.code === 'QUEUE_TICKET_INVALID' || (err.status === 400 && /TICKET/.test(err.code)));
}

function isAbort(err: unknown): boolean {
  return (err as Error)?.name === 'AbortError';
}

export function createRoomSession(eventId: number, deps: RoomDeps): RoomSession {
  const store = new TicketStore(deps.storage);
  const ctrl = new AbortController();
  let view: RoomView = { kind: 'joining' };
  let closed = false;
  let stored = store.get(eventId);
  let es: EventSourceLike | null = null;
  let streamFailures = 0;
  let pollDelay = POLL_MIN_MS;
  let joinFailures = 0;
  let refusals: number[] = [];
  let joinTimer: ReturnType<typeof setTimeout> | undefined;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let streamTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped on every (re)join, so an answer to an older call is dropped. */
  let generation = 0;

  const emit = (v: RoomView) => {
    view = v;
    if (!closed) deps.onView(v);
  };

  const stopLive = () => {
    es?.close();
    es = null;
    clearTimeout(pollTimer);
    clearTimeout(streamTimer);
    clearTimeout(heartbeatTimer);
    pollTimer = streamTimer = heartbeatTimer = undefined;
  };

  const forgetTicket = () => {
    stored = null;
    store.clear(eventId);
  };

  const remember = (ticket: string, position: number | null) => {
    const startPosition = position === null ? (stored?.ticket === ticket ? stored.startPosition : null) : nextStartPosition(stored?.ticket === ticket ? stored.startPosition : null, position);
    stored = { ticket, startPosition };
    store.put(eventId, stored);
  };

  const link = (): RoomLink => (es && es.readyState === 1 ? 'stream' : pollTimer !== undefined ? 'polling' : 'connecting');

  function apply(answer: RoomAnswer): void {
    switch (answer.state) {
      case 'open':
        stopLive();
        forgetTicket();
        emit({ kind: 'open' });
        return;
      case 'admitted':
        stopLive();
        remember(answer.ticket, null);
        emit({ kind: 'admitted', admittedUntil: answer.admittedUntil });
        heartbeatTimer = setTimeout(heartbeat, HEARTBEAT_MS);
        return;
      case 'waiting': {
        const wasWaiting = view.kind === 'waiting';
        if (!wasWaiting) stopLive();
        remember(answer.ticket, answer.position);
        emit({
          kind: 'waiting',
          position: answer.position,
          estimatedWaitSeconds: answer.estimatedWaitSeconds,
          startsAt: answer.startsAt,
          rate: answer.rate,
          startPosition: stored?.startPosition ?? answer.position,
          link: link(),
        });
        if (!es && streamTimer === undefined) openStream();
        return;
      }
    }
  }

  /** A failed call with a ticket: a refused ticket is dropped and the visitor joins afresh. */
  function handleTicketError(err: unknown, gen: number): boolean {
    if (gen !== generation || closed || isAbort(err)) return true;
    if (isBadTicket(err)) {
      forgetTicket();
      join();
      return true;
    }
    if (isGone(err)) {
      stopLive();
      forgetTicket();
      emit({ kind: 'open' });
      return true;
    }
    return false;
  }

  function join(): void {
    if (closed) return;
    const gen = ++generation;
    stopLive();
    clearTimeout(joinTimer);
    const ticket = stored?.ticket ?? null;
    deps.api.join(eventId, ticket, ctrl.signal).then(
      (body) => {
        if (gen !== generation || closed) return;
        const answer = parseRoomAnswer(body, eventId);
        if (!answer) return retryJoin(new Error('The waiting room sent an answer this page does not understand.'));
        joinFailures = 0;
        apply(answer);
      },
      (err) => {
        if (gen !== generation || closed || isAbort(err)) return;
        if (ticket && isBadTicket(err)) {
          // Another session's ticket (or one the server no longer accepts): join afresh.
          forgetTicket();
          return join();
        }
        if (isGone(err)) {
          forgetTicket();
          return emit({ kind: 'open' });
        }
        retryJoin(err);
      },
    );
  }

  function retryJoin(err: unknown): void {
    joinFailures++;
    const delay = Math.min(JOIN_RETRY_MAX_MS, JOIN_RETRY_MIN_MS * 2 ** (joinFailures - 1));
    emit({ kind: 'retrying', error: err, retryInMs: delay });
    joinTimer = setTimeout(join, delay);
  }

  function openStream(): void {
    if (closed || !stored) return;
    streamTimer = undefined;
    const src = deps.openStream(deps.api.streamUrl(eventId, stored.ticket));
    es = src;
    src.addEventListener('open', () => {
      if (es !== src) return;
      streamFailures = 0;
      clearTimeout(pollTimer);
      pollTimer = undefined;
      if (view.kind === 'waiting') emit({ ...view, link: 'stream' });
    });
    src.addEventListener('position', (ev) => {
      if (es !== src || view.kind !== 'waiting') return;
      const frame = parsePositionFrame(safeJson(ev.data));
      if (!frame) return;
      if (frame.state === 'waiting') {
        if (stored) remember(stored.ticket, frame.position);
        emit({
          ...view,
          position: frame.position,
          estimatedWaitSeconds: frame.estimatedWaitSeconds,
          startPosition: stored?.startPosition ?? frame.position,
          link: 'stream',
        });
      } else {
        // Admitted (the `admitted` frame follows) or the room was switched off: ask once.
        pollNow();
      }
    });
    src.addEventListener('admitted', (ev) => {
      if (es !== src || !stored) return;
      const body = safeJson(ev.data) as { admittedUntil?: unknown } | null;
      const until = typeof body?.admittedUntil === 'string' ? body.admittedUntil : null;
      apply({ eventId, state: 'admitted', ticket: stored.ticket, admittedUntil: until });
    });
    src.addEventListener('error', () => {
      if (es !== src) return;
      // Whatever the cause (a refused ticket, a restart, a proxy), poll
      // meanwhile; the poll's answer says if the ticket itself is the problem.
      src.close();
      es = null;
      streamFailures++;
      const delay = Math.min(STREAM_RETRY_MAX_MS, STREAM_RETRY_MIN_MS * 2 ** (streamFailures - 1));
      streamTimer = setTimeout(openStream, delay);
      if (pollTimer === undefined) schedulePoll(0);
      if (view.kind === 'waiting') emit({ ...view, link: 'polling' });
    });
  }

  function schedulePoll(delay: number): void {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => void poll(), delay);
  }

  function pollNow(): void {
    schedulePoll(0);
  }

  async function poll(): Promise<void> {
    if (closed || !stored) return;
    const gen = generation;
    try {
      const body = await deps.api.poll(eventId, stored.ticket, ctrl.signal);
      if (gen !== generation || closed) return;
      const answer = parseRoomAnswer(body, eventId);
      if (!answer) throw new Error('unreadable room answer');
      pollDelay = POLL_MIN_MS;
      apply(answer);
      // Still waiting without a stream: keep polling.
      if (view.kind === 'waiting' && !(es && es.readyState === 1)) schedulePoll(pollDelay);
      else {
        clearTimeout(pollTimer);
        pollTimer = undefined;
      }
    } catch (err) {
      if (handleTicketError(err, gen)) return;
      pollDelay = Math.min(POLL_MAX_MS, Math.round(pollDelay * 1.5));
      if (view.kind === 'waiting') {
        emit({ ...view, link: 'polling' });
        schedulePoll(pollDelay);
      }
    }
  }

  async function heartbeat(): Promise<void> {
    heartbeatTimer = undefined;
    if (closed || !stored || view.kind !== 'admitted') return;
    const gen = generation;
    try {
      const body = await deps.api.poll(eventId, stored.ticket, ctrl.signal);
      if (gen !== generation || closed) return;
      const answer = parseRoomAnswer(body, eventId);
      if (answer) {
        apply(answer);
        return;
      }
    } catch (err) {
      if (handleTicketError(err, gen)) return;
    }
    // A failed heartbeat keeps the map: the next one, or the map's own 403, decides.
    if (view.kind === 'admitted') heartbeatTimer = setTimeout(heartbeat, HEARTBEAT_MS);
  }

  return {
    start() {
      join();
    },
    queueRequired() {
      if (closed) return;
      const now = Date.now();
      refusals = refusals.filter((t) => now - t < REFUSAL_WINDOW_MS);
      refusals.push(now);
      stopLive();
      emit({ kind: 'joining' });
      // The first refusal rejoins at once; repeated ones (a server that
      // admits but whose map still refuses) back off instead of looping.
      const delay = refusals.length <= 1 ? 0 : Math.min(JOIN_RETRY_MAX_MS, 1_000 * 2 ** (refusals.length - 1));
      ++generation;
      clearTimeout(joinTimer);
      joinTimer = setTimeout(join, delay);
    },
    ticket() {
      return stored?.ticket ?? null;
    },
    view() {
      return view;
    },
    close() {
      closed = true;
      ctrl.abort();
      clearTimeout(joinTimer);
      stopLive();
    },
  };
}

function safeJson(data: unknown): unknown {
  if (typeof data !== 'string') return null;
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}
