// The live seat map: GET /api/events/{id}/seats/stream through EventSource,
// which resends Last-Event-ID itself when it reconnects. If the server
// closes the stream for good (an HTTP error), we open a new one after a
// back-off; the server then starts with a fresh snapshot. EventSource cannot
// send the session token's header: on an event with a waiting room (where
// the stream is for admitted sessions only) it carries it as `?token=`.
import { streamTokenQuery } from '../../shared/http';
import type { SeatChange, SeatMapBody } from './seatMapState';

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

export interface StreamHandlers {
  snapshot(body: SeatMapBody): void;
  seat(change: SeatChange): void;
  status(s: StreamStatus): void;
}

export interface SeatStream {
  close(): void;
}

const MAX_BACKOFF_MS = 10_000;

/** `withSession`: send the session (an event with a waiting room). */
export function openSeatStream(eventId: number, on: StreamHandlers, withSession = false): SeatStream {
  let es: EventSource | null = null;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  const connect = () => {
    if (closed) return;
    on.status(failures === 0 ? 'connecting' : 'reconnecting');
    // Built anew on every (re)connect: the session may have been renewed.
    const token = withSession ? streamTokenQuery() : '';
    const query = token ? `?${token}` : '';
    const src = new EventSource(`/api/events/${eventId}/seats/stream${query}`);
    es = src;
    src.addEventListener('open', () => {
      failures = 0;
      on.status('live');
    });
    src.addEventListener('snapshot', (ev) => {
      const body = parse<SeatMapBody>(ev);
      if (body && Array.isArray(body.seats)) on.snapshot(body);
    });
    src.addEventListener('seat', (ev) => {
      const change = parse<SeatChange>(ev);
      if (change && typeof change.seatId === 'number') on.seat(change);
    });
    src.addEventListener('error', () => {
      if (closed) return;
      if (src.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a non-200 answer): retry ourselves.
        src.close();
        failures++;
        on.status('reconnecting');
        const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 5));
        timer = setTimeout(connect, delay);
      } else {
        // CONNECTING: the browser reconnects on its own with Last-Event-ID.
        on.status('reconnecting');
      }
    });
  };
  connect();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      es?.close();
    },
  };
}

function parse<T>(ev: Event): T | null {
  try {
    return JSON.parse((ev as MessageEvent<string>).data) as T;
  } catch {
    return null;
  }
}
