// The first page: every event with how many seats are left.
import { h, clear } from '../../shared/dom';
import { errorBox } from '../../shared/errorView';
import { listEvents, type EventSummary } from './eventsApi';
import { formatEventDate } from './eventDate';
import { saleWindow } from './saleWindow';
import { serverNow } from '../../shared/clock';

export function mountEventList(root: HTMLElement): () => void {
  const ctrl = new AbortController();
  clear(root);
  root.appendChild(h('h1', null, 'Events'));
  const body = h('div', { class: 'event-list', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading events…'));
  root.appendChild(body);

  const load = () => {
    listEvents(ctrl.signal)
      .then((events) => render(body, events))
      .catch((err) => {
        if ((err as Error).name === 'AbortError') return;
        clear(body);
        body.appendChild(errorBox(err, h('button', { type: 'button', class: 'btn', onclick: load }, 'Try again')));
      })
      .finally(() => body.removeAttribute('aria-busy'));
  };
  load();
  return () => ctrl.abort();
}

function render(body: HTMLElement, events: EventSummary[]): void {
  clear(body);
  if (events.length === 0) {
    body.appendChild(h('p', { class: 'muted' }, 'No events on sale.'));
    return;
  }
  body.appendChild(
    h(
      'ul',
      { class: 'cards' },
      events.map((e) =>
        h(
          'li',
          { class: 'card' },
          h('h2', { class: 'card__title' }, h('a', { href: `#/events/${e.id}`, class: 'event-link' }, e.name)),
          h('p', { class: 'card__meta' }, e.venue, ' · ', h('time', { datetime: e.startsAt }, formatEventDate(e.startsAt))),
          saleLine(e),
          h(
            'p',
            { class: 'card__counts' },
            h('span', { class: 'count count--available' }, `${e.available} available`),
            h('span', { class: 'count count--held' }, `${e.held} held`),
            h('span', { class: 'count count--sold' }, `${e.sold} sold`),
          ),
        ),
      ),
    ),
  );
}

/** "Sale opens …" or "Sale ended" under an event whose sale window is not open now; nothing otherwise. */
function saleLine(e: EventSummary): HTMLElement | null {
  const w = saleWindow(e.saleStartsAt, e.saleEndsAt, serverNow());
  if (w.state === 'before') return h('p', { class: 'card__sale', 'data-sale': 'before' }, 'Sale opens ', h('time', { datetime: w.opensAt }, formatEventDate(w.opensAt)));
  if (w.state === 'ended') return h('p', { class: 'card__sale', 'data-sale': 'ended' }, 'Sale ended');
  return null;
}
