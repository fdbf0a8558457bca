// The event page: the live seat map beside the best-available picker and
// the cart, under the sale window's notice when the sale is not open. The
// map is the server's (snapshot + stream); "mine" comes from the server's
// answers to our own calls and GET /api/reservations. Nothing changes colour
// on a guess.
import { h, clear } from '../shared/dom';
import { errorBox, notify } from '../shared/errorView';
import { ApiError } from '../shared/http';
import { serverNow } from '../shared/clock';
import { getEvent } from '../features/events/eventsApi';
import { formatEventDate } from '../features/events/eventDate';
import { getSeatMap } from '../features/seatmap/seatMapApi';
import { reduceSeatMap, type SeatMapAction, type SeatMapState } from '../features/seatmap/seatMapState';
import { openSeatStream, type StreamStatus } from '../features/seatmap/seatStream';
import { createSeatGrid, createSeatLegend } from '../features/seatmap/SeatGrid';
import { saleNoticeText, saleWindow, type SaleWindow } from '../features/events/saleWindow';
import { holdBest } from '../features/picker/bestApi';
import { createBestPicker } from '../features/picker/BestPicker';
import type { LiveBadge } from '../features/seatmap/LiveBadge';
import { extendHold, holdSeats, listHolds, releaseHold } from '../features/cart/holdsApi';
import { HoldsStore } from '../features/cart/holdsStore';
import { createCartDrawer } from '../features/cart/CartDrawer';
import { mountWaitlist } from '../features/waitlist/WaitlistPanel';

const EXTEND_SECONDS = 120;
/** While the stream is down, the map is re-read this often. */
const FALLBACK_POLL_MS = 5_000;

export interface EventPageOptions {
  /** The waiting-room ticket of an admitted visitor: the event has a room, so the seat stream sends the session. */
  ticket?: string | null;
  /** The server refused the map or a hold because this session is not admitted (any more). */
  onQueueRequired?: () => void;
  /** Shown above the map (e.g. "it is your turn"). */
  notice?: Node | null;
}

/** Answers that mean "go through the waiting room first". */
export function needsRoom(err: unknown): boolean {
  return err instanceof ApiError && err.status === 403 && (err.code === 'QUEUE_REQUIRED' || err.code === 'NOT_ADMITTED');
}

export function mountEventPage(root: HTMLElement, eventId: number, badge: LiveBadge, opts: EventPageOptions = {}): () => void {
  const ctrl = new AbortController();
  const holds = new HoldsStore();
  const pending = new Set<number>();
  let map: SeatMapState | null = null;
  let streamStatus: StreamStatus = 'connecting';
  let reconcileTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts our own hold changes, so an older GET /api/reservations cannot undo a newer answer. */
  let changes = 0;
  /** The event's sale times (from GET /api/events/{id}); open until we know better. */
  let sale: { startsAt: string | null; endsAt: string | null } = { startsAt: null, endsAt: null };
  let saleState: SaleWindow = { state: 'open' };

  clear(root);
  const title = h('h1', { class: 'event__title' }, 'Event');
  const meta = h('p', { class: 'event__meta muted' });
  const grid = createSeatGrid((seatId, look) => {
    if (look === 'available') void hold(seatId);
    else if (look === 'mine') void release(seatId);
  });
  const legend = createSeatLegend();
  const saleNotice = h('p', { class: 'sale-notice', 'data-testid': 'sale-notice', hidden: true });
  const saleSpoken = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const picker = createBestPicker({
    eventId,
    hold: holdBest,
    onGranted: (granted) => {
      changes++;
      holds.put(granted.seatIds.map((id) => ({ eventId: granted.eventId, seatId: id, expiresAt: granted.expiresAt })));
      cart.open();
    },
    onRefused: (err) => {
      if (needsRoom(err) && opts.onQueueRequired) {
        opts.onQueueRequired();
        return true;
      }
      return false;
    },
    seatLabel: (id) => map?.seats.get(id)?.label ?? `#${id}`,
  });
  const cart = createCartDrawer({
    extend: (seatId) => void extend(seatId),
    remove: (seatId) => void release(seatId),
    checkout: () => {
      location.hash = `#/events/${eventId}/checkout`;
    },
  });
  // Sold out: the waiting list; its offers are holds of ours (the cart re-reads them).
  const waitlist = mountWaitlist(eventId, {
    onOffer: () => scheduleReconcile(),
    checkout: () => {
      location.hash = `#/events/${eventId}/checkout`;
    },
  });
  root.append(
    h('p', null, h('a', { href: '#/', class: 'back' }, '← All events')),
    title,
    meta,
    ...(opts.notice ? [opts.notice] : []),
    saleNotice,
    saleSpoken,
    h(
      'div',
      { class: 'event__layout' },
      h('section', { class: 'event__map', 'aria-label': 'Seat map' }, legend.el, grid.el),
      h('div', { class: 'event__side' }, picker.el, cart.el),
    ),
  );
  meta.after(waitlist.el);

  const render = () => {
    const mine = new Set(holds.forEvent(eventId).map((x) => x.seatId));
    const saleOpen = saleState.state === 'open';
    grid.render(map, { mine, pending, saleOpen });
    legend.update(map);
    picker.update({
      categories: map?.categories ?? [],
      sections: map?.sections ?? [],
      accessible: map?.hasAccessible ?? false,
      saleOpen,
    });
    cart.render(holds.forEvent(eventId), map?.seats ?? null, pending);
    waitlist.seatMap(map);
  };
  holds.subscribe(render);

  const dispatch = (action: SeatMapAction) => {
    const next = reduceSeatMap(map, action);
    if (next === map) return;
    const before = map;
    map = next;
    render();
    // The stream says one of "our" seats became AVAILABLE (expiry, or a
    // release from another tab): ask the server which holds we still have.
    if (before && action.type === 'seat' && action.change.status === 'AVAILABLE' && holds.has(eventId, action.change.seatId)) {
      scheduleReconcile();
    }
  };

  const reconcile = async () => {
    const seen = changes;
    try {
      const list = await listHolds(ctrl.signal);
      if (seen !== changes || pending.size > 0) scheduleReconcile();
      else holds.replaceAll(list);
    } catch (err) {
      if ((err as Error).name !== 'AbortError') console.warn('could not list holds', err);
    }
  };
  const scheduleReconcile = () => {
    clearTimeout(reconcileTimer);
    reconcileTimer = setTimeout(() => void reconcile(), 150);
  };

  /** The sale window now; re-renders when it opened or closed since the last look. */
  const checkSale = () => {
    const next = saleWindow(sale.startsAt, sale.endsAt, serverNow());
    const text = saleNoticeText(next);
    if (saleNotice.textContent !== text) saleNotice.textContent = text;
    saleNotice.hidden = text === '';
    saleNotice.dataset.sale = next.state;
    if (next.state !== saleState.state) {
      // Spoken once when the sale opens while the page is open; the countdown itself is not a live region.
      if (saleState.state === 'before' && next.state === 'open') saleSpoken.textContent = 'The sale is open: choose your seats.';
      saleState = next;
      render();
    } else {
      saleState = next;
    }
  };

  async function hold(seatId: number): Promise<void> {
    if (pending.has(seatId) || saleState.state !== 'open') return;
    pending.add(seatId);
    render();
    try {
      const granted = await holdSeats(eventId, [seatId]);
      changes++;
      holds.put(granted.seatIds.map((id) => ({ eventId: granted.eventId, seatId: id, expiresAt: granted.expiresAt })));
      cart.open();
    } catch (err) {
      if (needsRoom(err) && opts.onQueueRequired) {
        opts.onQueueRequired();
        return;
      }
      notify(err);
      // A hold refused because of another session's hold or sale: the
      // stream will show it; if it is slow, re-read the map once.
      if (err instanceof ApiError && (err.code === 'SEAT_UNAVAILABLE' || err.code === 'SEAT_SOLD') && streamStatus !== 'live') {
        void refreshMap();
      }
    } finally {
      pending.delete(seatId);
      render();
    }
  }

  async function release(seatId: number): Promise<void> {
    if (pending.has(seatId)) return;
    pending.add(seatId);
    render();
    try {
      await releaseHold(eventId, seatId);
      changes++;
      holds.remove(eventId, seatId);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'RESERVATION_EXPIRED') holds.remove(eventId, seatId);
      else notify(err);
    } finally {
      pending.delete(seatId);
      render();
    }
  }

  async function extend(seatId: number): Promise<void> {
    if (pending.has(seatId)) return;
    pending.add(seatId);
    render();
    try {
      const extended = await extendHold(eventId, seatId, EXTEND_SECONDS);
      changes++;
      holds.put([extended]);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'RESERVATION_EXPIRED') holds.remove(eventId, seatId);
      notify(err);
    } finally {
      pending.delete(seatId);
      render();
    }
  }

  async function refreshMap(): Promise<void> {
    try {
      dispatch({ type: 'snapshot', body: await getSeatMap(eventId, ctrl.signal), from: 'fetch' });
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      if (needsRoom(err) && opts.onQueueRequired) {
        opts.onQueueRequired();
        return;
      }
      if (!map) {
        clear(grid.el);
        grid.el.appendChild(errorBox(err));
      }
    }
  }

  // Event details, the first map (REST, for a quick first paint), our holds, then the stream.
  getEvent(eventId, ctrl.signal)
    .then((e) => {
      title.textContent = e.name;
      clear(meta);
      meta.append(e.venue, ' · ', h('time', { datetime: e.startsAt }, formatEventDate(e.startsAt)));
      document.title = `${e.name} · Tickets`;
      sale = { startsAt: e.saleStartsAt ?? null, endsAt: e.saleEndsAt ?? null };
      checkSale();
    })
    .catch((err) => {
      if ((err as Error).name === 'AbortError') return;
      clear(root);
      root.append(h('p', null, h('a', { href: '#/', class: 'back' }, '← All events')), errorBox(err));
      ctrl.abort();
    });
  render();
  void refreshMap();
  void reconcile();

  const stream = openSeatStream(eventId, {
    snapshot: (body) => {
      dispatch({ type: 'snapshot', body, from: 'stream' });
      // A fresh snapshot after a gap: our holds may have lapsed meanwhile.
      scheduleReconcile();
    },
    seat: (change) => dispatch({ type: 'seat', change }),
    status: (s) => {
      // A stream that drops may have been refused (a waiting room switched
      // on meanwhile): EventSource hides the status, the map call shows it.
      if (s === 'reconnecting' && streamStatus === 'live') void refreshMap();
      streamStatus = s;
      badge.set(s);
    },
  }, opts.ticket != null);

  // Countdowns tick; holds past their expiry leave the cart (the server
  // frees them within a second, and the stream will say so).
  const ticker = setInterval(() => {
    cart.tick();
    checkSale();
    if (holds.dropExpired(serverNow())) scheduleReconcile();
  }, 250);
  const poller = setInterval(() => {
    if (streamStatus !== 'live') void refreshMap();
  }, FALLBACK_POLL_MS);
  const onVisible = () => {
    if (document.visibilityState === 'visible') scheduleReconcile();
  };
  document.addEventListener('visibilitychange', onVisible);

  return () => {
    ctrl.abort();
    stream.close();
    waitlist.close();
    clearInterval(ticker);
    clearInterval(poller);
    clearTimeout(reconcileTimer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
