// #/events/{id}: first the waiting room (POST /api/events/{id}/room), then
// the seat map. "open" and "admitted" show the map; "waiting" shows the
// waiting room, which hands over to the map by itself when the server admits
// this visitor; a map refused with 403 QUEUE_REQUIRED / NOT_ADMITTED comes
// back here. A server without the room (404) gets the map, as before.
import { h, clear } from '../shared/dom';
import { serverNow } from '../shared/clock';
import { getEvent } from '../features/events/eventsApi';
import { formatEventDate } from '../features/events/eventDate';
import type { LiveBadge } from '../features/seatmap/LiveBadge';
import { roomApi } from '../features/room/roomApi';
import { createRoomSession, type EventSourceLike, type RoomView } from '../features/room/roomSession';
import { createWaitingRoom, type WaitingRoomView } from '../features/room/WaitingRoom';
import { mountEventPage } from './EventPage';

export function mountEventGate(root: HTMLElement, eventId: number, badge: LiveBadge): () => void {
  const ctrl = new AbortController();
  let unmountMap: (() => void) | null = null;
  let room: WaitingRoomView | null = null;
  let eventName: string | null = null;
  let eventMeta: (Node | string)[] = [];
  let clock: ReturnType<typeof setInterval> | undefined;

  const showLoading = () => {
    clear(root);
    root.append(backLink(), h('p', { class: 'muted', 'aria-busy': 'true' }, 'Loading the event…'));
  };

  const showRoom = (view: RoomView) => {
    if (unmountMap) {
      unmountMap();
      unmountMap = null;
    }
    if (!room) {
      room = createWaitingRoom();
      clear(root);
      root.append(
        backLink(),
        h('h1', { class: 'event__title' }, eventName ?? 'Event'),
        h('p', { class: 'event__meta muted' }, ...eventMeta),
        room.el,
      );
      if (eventName) document.title = `${eventName} · Waiting room · Tickets`;
      // The estimate and the sale start count down between server updates.
      clock = setInterval(() => room?.render(session.view(), serverNow()), 1_000);
    }
    room.render(view, serverNow());
    badge.set(view.kind === 'waiting' ? (view.link === 'stream' ? 'live' : view.link === 'polling' ? 'reconnecting' : 'connecting') : 'connecting');
  };

  const showMap = (admitted: boolean) => {
    if (unmountMap) return;
    clearInterval(clock);
    room = null;
    clear(root);
    const notice = admitted
      ? h(
          'p',
          { class: 'room-turn', role: 'status', 'data-testid': 'room-turn' },
          'It is your turn: choose your seats. Your place is kept while you are active on this page.',
        )
      : null;
    unmountMap = mountEventPage(root, eventId, badge, {
      ticket: admitted ? session.ticket() : null,
      onQueueRequired: () => session.queueRequired(),
      notice,
    });
  };

  const session = createRoomSession(eventId, {
    api: roomApi,
    openStream: (url) => new EventSource(url) as unknown as EventSourceLike,
    storage: sessionStorage,
    onView(view) {
      switch (view.kind) {
        case 'open':
          showMap(false);
          break;
        case 'admitted':
          showMap(true);
          break;
        case 'joining':
          // The first question: a quiet placeholder, not a waiting room that may never be needed.
          if (!unmountMap && !room) showLoading();
          else showRoom(view);
          break;
        default:
          showRoom(view);
      }
    },
  });

  getEvent(eventId, ctrl.signal)
    .then((e) => {
      eventName = e.name;
      eventMeta = [e.venue, ' · ', h('time', { datetime: e.startsAt }, formatEventDate(e.startsAt))];
      if (room) {
        const t = root.querySelector('.event__title');
        const m = root.querySelector('.event__meta');
        if (t) t.textContent = e.name;
        if (m) m.replaceChildren(...eventMeta);
        document.title = `${e.name} · Waiting room · Tickets`;
      }
    })
    .catch(() => {
      // The map shows an unknown event's error itself.
    });

  showLoading();
  session.start();

  return () => {
    ctrl.abort();
    session.close();
    clearInterval(clock);
    unmountMap?.();
  };
}

function backLink(): HTMLElement {
  return h('p', null, h('a', { href: '#/', class: 'back' }, '← All events'));
}
