// Checkout: create the order (Idempotency-Key per attempt), authorize the
// payment, then follow the order until the server says CONFIRMED or
// CANCELLED. Every status shown is one the server returned.
import { h, clear } from '../../shared/dom';
import { errorBox } from '../../shared/errorView';
import { ApiError } from '../../shared/http';
import { formatMoney, sumMinor } from '../../shared/money';
import { getEvent, type EventSummary } from '../events/eventsApi';
import { getSeatMap } from '../seatmap/seatMapApi';
import type { Seat } from '../seatmap/seatMapState';
import { listHolds } from '../cart/holdsApi';
import { authorizePayment, createOrder, getOrder, type Order, type PaymentResult } from './ordersApi';
import { AttemptStore, type Attempt } from './checkoutAttempt';
import { devSimulate } from './devToggle';
import { formatRemaining, remainingMs } from '../../shared/countdown';
import { serverNow } from '../../shared/clock';
import { mountTickets } from '../tickets/TicketsView';

const POLL_MS = 400;
const POLL_GIVE_UP_MS = 60_000;

export function mountCheckout(root: HTMLElement, eventId: number): () => void {
  const ctrl = new AbortController();
  const attempts = new AttemptStore(sessionStorage);
  const simulate = devSimulate(location.search);
  let seats = new Map<number, Seat>();
  let event: EventSummary | null = null;
  let seatIds: number[] = [];
  let running = false;
  let holdEnds: string | null = null;
  let holdTimer: ReturnType<typeof setInterval> | undefined;
  let unmountTickets: (() => void) | null = null;

  clear(root);
  const heading = h('h1', null, 'Checkout');
  const summary = h('section', { class: 'checkout__summary', 'aria-label': 'Your seats' }, h('p', { class: 'muted' }, 'Loading…'));
  const status = h('section', { class: 'checkout__status', 'aria-live': 'polite', 'data-testid': 'order-status' });
  const actions = h('div', { class: 'checkout__actions' });
  root.append(
    h('p', null, h('a', { href: `#/events/${eventId}`, class: 'back' }, '← Back to the seat map')),
    heading,
    summary,
    status,
    actions,
  );
  if (simulate) root.append(h('p', { class: 'dev-note' }, `Development mode: payments are forced to ${simulate}.`));

  const renderSummary = (order?: Order) => {
    clear(summary);
    if (event) summary.appendChild(h('p', { class: 'checkout__event' }, h('strong', null, event.name), ` · ${event.venue}`));
    const ids = order?.seatIds ?? seatIds;
    if (ids.length === 0) {
      summary.appendChild(h('p', { class: 'muted' }, 'You hold no seats for this event.'));
      return;
    }
    summary.appendChild(
      h(
        'ul',
        { class: 'checkout__seats' },
        ids.map((id) => {
          const s = seats.get(id);
          return h('li', null, h('span', null, 'Seat ', h('strong', null, s?.label ?? `#${id}`)), h('span', null, s ? formatMoney(s.price) : ''));
        }),
      ),
    );
    const amount = order ? order.amount : sumMinor(ids.map((id) => seats.get(id)?.price ?? 0));
    summary.appendChild(h('p', { class: 'checkout__total' }, 'Total ', h('strong', { 'data-testid': 'order-amount' }, formatMoney(amount))));
  };

  const showStatus = (state: string, text: string, detail?: Node | string | null) => {
    clear(status);
    status.dataset.status = state;
    status.append(h('p', { class: `status status--${state.toLowerCase()}` }, h('span', { class: 'status__badge' }, state), ' ', text));
    if (detail) status.append(typeof detail === 'string' ? h('p', { class: 'muted' }, detail) : detail);
  };

  const setActions = (...nodes: Node[]) => {
    clear(actions);
    actions.append(...nodes);
  };

  const payButton = () => {
    const b = h('button', { type: 'button', class: 'btn btn--primary', 'data-testid': 'pay' }, `Pay ${formatMoney(sumMinor(seatIds.map((id) => seats.get(id)?.price ?? 0)))}`);
    b.addEventListener('click', () => void run());
    return b;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      ctrl.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new DOMException('aborted', 'AbortError'));
      }, { once: true });
    });

  const finish = (order: Order, attempt: Attempt) => {
    attempts.clear(attempt.eventId);
    renderSummary(order);
    const back = h('a', { href: `#/events/${eventId}`, class: 'btn' }, 'Back to the seat map');
    if (order.status === 'CONFIRMED') {
      showStatus('CONFIRMED', 'Your seats are booked.', h('p', { class: 'muted' }, 'Order ', h('code', null, order.orderId)));
      setActions(back);
      unmountTickets?.();
      unmountTickets = mountTickets(root, order.orderId, event?.name ?? null);
      return;
    } else {
      showStatus('CANCELLED', 'The order was cancelled.', h('p', { class: 'reason', 'data-testid': 'order-reason' }, `Reason: ${order.reason ?? 'not given'}`));
    }
    setActions(back);
  };

  /** While reviewing: how long the earliest of our holds has left. */
  const showReview = () => {
    const left = h('strong', { class: 'countdown', role: 'timer' });
    showStatus('REVIEW', 'Check your seats, then pay.', h('p', { class: 'muted' }, 'Your seats are held for ', left, '.'));
    const tick = () => {
      const ms = holdEnds ? remainingMs(holdEnds, serverNow()) : 0;
      left.textContent = formatRemaining(ms);
      if (ms <= 0) {
        clearInterval(holdTimer);
        showStatus('EXPIRED', 'Your hold has run out.', h('p', { class: 'muted' }, 'Go back to the seat map to pick seats again.'));
        setActions(h('a', { href: `#/events/${eventId}`, class: 'btn' }, 'Back to the seat map'));
      }
    };
    tick();
    holdTimer = setInterval(tick, 500);
  };

  async function run(): Promise<void> {
    if (running) return;
    running = true;
    clearInterval(holdTimer);
    const attempt = attempts.begin(eventId, seatIds);
    try {
      let order: Order;
      if (!attempt.orderId) {
        showStatus('SENDING', 'Creating your order…');
        setActions();
        order = await createOrder(attempt.key, eventId, attempt.seatIds);
        attempt.orderId = order.orderId;
        attempts.save(attempt);
      } else {
        order = await getOrder(attempt.orderId, ctrl.signal);
      }
      renderSummary(order);
      showStatus(order.status, order.status === 'PENDING' ? 'Order created, authorizing the payment…' : '');

      let payment: PaymentResult | null = null;
      if (order.status === 'PENDING' && !attempt.authorized) {
        try {
          payment = await authorizePayment(order.orderId, simulate);
        } catch (err) {
          // Already decided (e.g. a retry after the first authorize got through): just follow the order.
          if (!(err instanceof ApiError && err.code === 'ORDER_NOT_PENDING')) throw err;
        }
        attempt.authorized = true;
        attempts.save(attempt);
      }
      const paymentText = payment ? `Payment ${payment.status.toLowerCase()}, waiting for the order to settle…` : 'Waiting for the order to settle…';

      const started = Date.now();
      while (order.status === 'PENDING') {
        showStatus('PENDING', paymentText);
        if (Date.now() - started > POLL_GIVE_UP_MS) {
          const again = h('button', { type: 'button', class: 'btn' }, 'Check again');
          again.addEventListener('click', () => void run());
          showStatus('PENDING', 'The order is still pending. It will end confirmed or cancelled; check again in a moment.');
          setActions(again);
          return;
        }
        await sleep(POLL_MS);
        order = await getOrder(order.orderId, ctrl.signal);
      }
      finish(order, attempt);
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      const retry = h('button', { type: 'button', class: 'btn btn--primary' }, 'Try again');
      retry.addEventListener('click', () => void run());
      clear(status);
      status.dataset.status = 'ERROR';
      status.appendChild(errorBox(err));
      // A rejected order (e.g. seats no longer held) will not get better with the same key.
      if (err instanceof ApiError && !attempt.orderId && err.status >= 400 && err.status < 500) {
        attempts.clear(eventId);
        setActions(h('a', { href: `#/events/${eventId}`, class: 'btn' }, 'Back to the seat map'));
      } else {
        setActions(retry);
      }
    } finally {
      running = false;
    }
  }

  (async () => {
    try {
      const [ev, map, holds] = await Promise.all([getEvent(eventId, ctrl.signal), getSeatMap(eventId, ctrl.signal), listHolds(ctrl.signal)]);
      event = ev;
      seats = new Map(map.seats.map((s) => [s.id, s]));
      const mine = holds.filter((x) => x.eventId === eventId);
      seatIds = mine.map((x) => x.seatId).sort((a, b) => a - b);
      holdEnds = mine.map((x) => x.expiresAt).sort((a, b) => Date.parse(a) - Date.parse(b))[0] ?? null;
      const pending = attempts.load(eventId);
      if (pending?.orderId) {
        // A reload mid-payment: carry on with the same order.
        seatIds = pending.seatIds;
        renderSummary();
        void run();
        return;
      }
      renderSummary();
      if (seatIds.length === 0) {
        setActions(h('a', { href: `#/events/${eventId}`, class: 'btn' }, 'Pick seats'));
        return;
      }
      showReview();
      setActions(payButton());
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      clear(summary);
      summary.appendChild(errorBox(err));
    }
  })();

  return () => {
    ctrl.abort();
    clearInterval(holdTimer);
    unmountTickets?.();
  };
}
