// The cart: this session's held seats for the event, their total and a
// countdown to each hold's expiry, with extend and remove.
import { h, clear } from '../../shared/dom';
import { formatMoney, sumMinor } from '../../shared/money';
import { formatRemaining, remainingMs, urgency } from '../../shared/countdown';
import { serverNow } from '../../shared/clock';
import type { Hold } from './holdsApi';
import type { Seat } from '../seatmap/seatMapState';

export interface CartActions {
  extend(seatId: number): void;
  remove(seatId: number): void;
  checkout(): void;
}

export interface CartDrawer {
  el: HTMLElement;
  render(holds: Hold[], seats: ReadonlyMap<number, Seat> | null, busy: ReadonlySet<number>): void;
  open(): void;
  /** Updates the countdowns only. */
  tick(): void;
}

export function createCartDrawer(actions: CartActions): CartDrawer {
  const list = h('ul', { class: 'cart__items' });
  const total = h('strong', { class: 'cart__total-amount', 'data-testid': 'cart-total' }, formatMoney(0));
  const count = h('span', { class: 'cart__count' }, '0');
  const checkout = h('button', { type: 'button', class: 'btn btn--primary cart__checkout', disabled: true }, 'Checkout');
  checkout.addEventListener('click', () => actions.checkout());
  const panel = h(
    'div',
    { class: 'cart__panel', id: 'cart-panel' },
    list,
    h('p', { class: 'cart__total' }, 'Total ', total),
    checkout,
  );
  const toggle = h(
    'button',
    { type: 'button', class: 'cart__toggle', 'aria-expanded': 'true', 'aria-controls': 'cart-panel' },
    'Your cart ',
    count,
  );
  const el = h('aside', { class: 'cart', 'aria-label': 'Cart', 'data-open': 'true' }, toggle, panel);
  const setOpen = (open: boolean) => {
    el.dataset.open = String(open);
    toggle.setAttribute('aria-expanded', String(open));
    panel.hidden = !open;
  };
  toggle.addEventListener('click', () => setOpen(el.dataset.open !== 'true'));

  let countdowns: { el: HTMLElement; row: HTMLElement; expiresAt: string }[] = [];
  let lastSignature = '';
  /** A cart button that had focus before a rebuild, to focus again. */
  let refocus: { action: string; seatId: string } | null = null;

  const tick = () => {
    const now = serverNow();
    for (const c of countdowns) {
      const ms = remainingMs(c.expiresAt, now);
      c.el.textContent = formatRemaining(ms);
      c.row.dataset.urgency = urgency(ms);
    }
  };

  list.addEventListener('click', (ev) => {
    const btn = (ev.target as Element).closest<HTMLButtonElement>('button[data-action]');
    if (!btn || btn.disabled) return;
    const seatId = Number(btn.dataset.seatId);
    if (btn.dataset.action === 'extend') actions.extend(seatId);
    else if (btn.dataset.action === 'remove') actions.remove(seatId);
  });

  return {
    el,
    open: () => setOpen(true),
    tick,
    render(holds, seats, busy) {
      // Seat changes of others re-render the page often; rebuild the list only
      // when our cart changed, so focus on its buttons survives.
      const signature = `${seats ? 1 : 0}|${holds.map((x) => `${x.seatId}@${x.expiresAt}${busy.has(x.seatId) ? '*' : ''}`).join(',')}`;
      if (signature === lastSignature) return;
      const focused = list.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
      if (focused?.dataset.action) refocus = { action: focused.dataset.action, seatId: focused.dataset.seatId ?? '' };
      lastSignature = signature;
      clear(list);
      countdowns = [];
      count.textContent = String(holds.length);
      if (holds.length === 0) {
        list.appendChild(h('li', { class: 'cart__empty muted' }, 'No seats yet. Pick a seat to hold it.'));
      }
      for (const hold of holds) {
        const seat = seats?.get(hold.seatId);
        const label = seat?.label ?? `#${hold.seatId}`;
        const timer = h('span', { class: 'countdown', role: 'timer', 'aria-label': `Time left on seat ${label}` });
        const isBusy = busy.has(hold.seatId);
        const row = h(
          'li',
          { class: 'cart__item', 'data-seat-id': String(hold.seatId) },
          h('span', { class: 'cart__seat' }, 'Seat ', h('strong', null, label)),
          h('span', { class: 'cart__price' }, seat ? formatMoney(seat.price) : '–'),
          h('span', { class: 'cart__timer' }, 'held for ', timer),
          h(
            'span',
            { class: 'cart__buttons' },
            h('button', { type: 'button', class: 'btn btn--small', 'data-action': 'extend', 'data-seat-id': String(hold.seatId), disabled: isBusy, 'aria-label': `Extend hold on seat ${label}` }, 'Extend'),
            h('button', { type: 'button', class: 'btn btn--small btn--quiet', 'data-action': 'remove', 'data-seat-id': String(hold.seatId), disabled: isBusy, 'aria-label': `Remove seat ${label}` }, 'Remove'),
          ),
        );
        countdowns.push({ el: timer, row, expiresAt: hold.expiresAt });
        list.appendChild(row);
      }
      total.textContent = formatMoney(sumMinor(holds.map((x) => seats?.get(x.seatId)?.price ?? 0)));
      (checkout as HTMLButtonElement).disabled = holds.length === 0;
      if (refocus) {
        // Put focus back on the same button of the same seat once it is
        // enabled again (e.g. after Extend); after Remove, on the list's next button.
        const again = list.querySelector<HTMLButtonElement>(`button[data-action="${refocus.action}"][data-seat-id="${refocus.seatId}"]`);
        if (!again) {
          const next = list.querySelector<HTMLButtonElement>('button:not(:disabled)');
          if (next) next.focus();
          else checkout.focus();
          refocus = null;
        } else if (!again.disabled) {
          again.focus();
          refocus = null;
        }
      }
      tick();
    },
  };
}
