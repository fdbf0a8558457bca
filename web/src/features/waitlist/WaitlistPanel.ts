// The waiting-list panel of the event page: when the map has no free seat,
// "Join the waiting list" with a seat count; then the place in line, live
// from the waiter's stream; when seats are held for us, the offer with a
// countdown and a button to the checkout (the offered seats are ordinary
// holds of this session, so the cart and the checkout already show them).
import { h, clear } from '../../shared/dom';
import { notify } from '../../shared/errorView';
import { ApiError } from '../../shared/http';
import { serverNow } from '../../shared/clock';
import { formatRemaining, remainingMs } from '../../shared/countdown';
import type { SeatMapState } from '../seatmap/seatMapState';
import { getWaitlist, joinWaitlist, leaveWaitlist, waitlistStreamUrl } from './waitlistApi';
import { COUNT_MAX, frameAction, offerLabels, reduceWaitlist, soldOut, type WaitlistAction, type WaitlistState } from './waitlistModel';

/** While the stream is down, the entry is re-read this often. */
const FALLBACK_POLL_MS = 5_000;

export interface WaitlistHooks {
  /** Seats were offered (held for this session): the page re-reads its holds. */
  onOffer(): void;
  /** "Buy now": to the checkout of this event. */
  checkout(): void;
}

export interface WaitlistPanel {
  el: HTMLElement;
  /** The page's seat map changed. */
  seatMap(map: SeatMapState | null): void;
  close(): void;
}

export function mountWaitlist(eventId: number, hooks: WaitlistHooks): WaitlistPanel {
  const ctrl = new AbortController();
  let state: WaitlistState = { kind: 'none' };
  let map: SeatMapState | null = null;
  let stream: EventSource | null = null;
  let busy = false;
  let lastOffer = '';

  const el = h('section', { class: 'waitlist', 'aria-live': 'polite', 'data-testid': 'waitlist', hidden: '' });
  const count = h('select', { 'aria-label': 'Seats wanted', 'data-testid': 'waitlist-count' });
  for (let n = 1; n <= COUNT_MAX; n++) count.append(h('option', { value: String(n) }, `${n} seat${n > 1 ? 's' : ''}`));
  const countdown = h('strong', { 'data-testid': 'waitlist-countdown' });

  const button = (text: string, testid: string, onClick: () => void, primary = false) => {
    const b = h('button', { type: 'button', class: primary ? 'btn btn--primary' : 'btn', 'data-testid': testid }, text);
    b.addEventListener('click', onClick);
    if (busy) b.setAttribute('disabled', '');
    return b;
  };

  const render = () => {
    clear(el);
    el.dataset.state = state.kind;
    const joinRow = () =>
      h('p', { class: 'waitlist__join' }, count, ' ', button('Join the waiting list', 'waitlist-join', () => void join(), true));
    if (state.kind === 'none' || state.kind === 'gone') {
      if (!soldOut(map) && state.kind === 'none') {
        el.setAttribute('hidden', '');
        return;
      }
      el.removeAttribute('hidden');
      if (state.kind === 'gone') {
        el.append(
          h(
            'p',
            { 'data-testid': 'waitlist-gone' },
            state.hadOffer ? 'Your offer has ended (it was bought or ran out).' : 'You are no longer on the waiting list.',
          ),
        );
      } else {
        el.append(h('h2', { class: 'waitlist__title' }, 'Sold out'), h('p', null, 'Join the waiting list: when a seat comes back, we hold it for you.'));
      }
      if (soldOut(map)) el.append(joinRow());
      return;
    }
    el.removeAttribute('hidden');
    el.append(h('h2', { class: 'waitlist__title' }, 'Waiting list'));
    if (state.position !== null) {
      el.append(
        h(
          'p',
          null,
          'You are number ',
          h('strong', { 'data-testid': 'waitlist-position' }, String(state.position)),
          ` on the waiting list for ${state.count} seat${state.count > 1 ? 's' : ''}.`,
        ),
      );
    }
    if (state.offer) {
      const labels = offerLabels(state.offer, map).join(', ');
      el.append(
        h(
          'div',
          { class: 'waitlist__offer', 'data-testid': 'waitlist-offer', 'data-seats': state.offer.seatIds.join(',') },
          h('p', null, `Held for you: ${labels}. Time left: `, countdown),
          button('Buy now', 'waitlist-buy', () => hooks.checkout(), true),
        ),
      );
      tick();
    }
    el.append(h('p', { class: 'waitlist__actions' }, button('Leave the waiting list', 'waitlist-leave', () => void leave())));
  };

  const tick = () => {
    if (state.kind === 'waiting' && state.offer) countdown.textContent = formatRemaining(remainingMs(state.offer.expiresAt, serverNow()));
  };

  const dispatch = (action: WaitlistAction) => {
    const next = reduceWaitlist(state, action);
    if (next === state) return;
    state = next;
    const offer = state.kind === 'waiting' && state.offer ? JSON.stringify(state.offer) : '';
    if (offer && offer !== lastOffer) hooks.onOffer();
    lastOffer = offer;
    if (state.kind === 'waiting') openStream();
    else closeStream();
    render();
  };

  const openStream = () => {
    if (stream || typeof EventSource === 'undefined') return;
    const es = new EventSource(waitlistStreamUrl(eventId));
    stream = es;
    for (const name of ['position', 'offer', 'gone']) {
      es.addEventListener(name, (e) => {
        const action = frameAction(name, (e as MessageEvent).data as string);
        if (action) dispatch(action);
      });
    }
    es.onerror = () => {
      // Refused (404: no longer on the list) or the server went away: the
      // poll below tells which.
      if (es.readyState === EventSource.CLOSED && stream === es) stream = null;
    };
  };
  const closeStream = () => {
    stream?.close();
    stream = null;
  };

  const refresh = async () => {
    try {
      dispatch({ type: 'entry', entry: await getWaitlist(eventId, ctrl.signal) });
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      if (err instanceof ApiError && err.code === 'NOT_ON_WAITLIST') dispatch({ type: 'notOnList' });
    }
  };

  async function join(): Promise<void> {
    if (busy) return;
    busy = true;
    render();
    try {
      dispatch({ type: 'entry', entry: await joinWaitlist(eventId, Number(count.value), ctrl.signal) });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') notify(err);
    } finally {
      busy = false;
      render();
    }
  }

  async function leave(): Promise<void> {
    if (busy) return;
    busy = true;
    render();
    try {
      await leaveWaitlist(eventId);
      dispatch({ type: 'left' });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NOT_ON_WAITLIST') dispatch({ type: 'left' });
      else notify(err);
    } finally {
      busy = false;
      hooks.onOffer(); // the offered seats were given back
      render();
    }
  }

  void refresh();
  const ticker = setInterval(tick, 250);
  const poller = setInterval(() => {
    if (state.kind === 'waiting' && !stream) void refresh();
  }, FALLBACK_POLL_MS);

  return {
    el,
    seatMap(next) {
      const was = soldOut(map);
      map = next;
      if (soldOut(map) !== was || (state.kind === 'waiting' && state.offer)) render();
    },
    close() {
      ctrl.abort();
      closeStream();
      clearInterval(ticker);
      clearInterval(poller);
    },
  };
}
