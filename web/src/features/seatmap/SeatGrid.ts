// The seat grid: one button per seat, coloured by its look. Built once per
// map shape and then updated in place, so focus and scroll survive updates.
import { h, clear } from '../../shared/dom';
import { formatMoney } from '../../shared/money';
import { seatLook, type SeatLook, type SeatMapState } from './seatMapState';

const LOOK_TEXT: Record<SeatLook, string> = {
  available: 'available',
  mine: 'held by you',
  held: 'held by someone else',
  sold: 'sold',
  pending: 'waiting for the server',
};

export interface SeatGridView {
  /** Seats this session holds (server-confirmed). */
  mine: ReadonlySet<number>;
  /** Seats with a hold or release request of ours in flight. */
  pending: ReadonlySet<number>;
}

export interface SeatGrid {
  el: HTMLElement;
  render(state: SeatMapState | null, view: SeatGridView): void;
}

export function createSeatGrid(onSeat: (seatId: number, look: SeatLook) => void): SeatGrid {
  const el = h('div', { class: 'seatmap' });
  let grid: HTMLElement | null = null;
  let shape = '';
  const buttons = new Map<number, HTMLButtonElement>();
  const looks = new Map<number, string>();

  el.addEventListener('click', (ev) => {
    const btn = (ev.target as Element).closest<HTMLButtonElement>('button.seat');
    if (!btn || btn.getAttribute('aria-disabled') === 'true') return;
    onSeat(Number(btn.dataset.seatId), btn.dataset.state as SeatLook);
  });

  function build(state: SeatMapState): void {
    clear(el);
    buttons.clear();
    looks.clear();
    grid = h('div', {
      class: 'seatmap__grid',
      role: 'group',
      'aria-label': `Seats, ${state.rows} rows of ${state.cols}`,
      style: `--cols:${state.cols}`,
    });
    const ordered = [...state.seats.values()].sort((a, b) => a.r - b.r || a.c - b.c);
    for (const s of ordered) {
      const b = h('button', {
        type: 'button',
        class: 'seat',
        style: `grid-row:${s.r + 1};grid-column:${s.c + 1}`,
        dataset: { seatId: String(s.id) },
      }) as HTMLButtonElement;
      b.appendChild(h('span', { class: 'seat__label' }, s.label));
      buttons.set(s.id, b);
      grid.appendChild(b);
    }
    el.append(h('div', { class: 'stage', 'aria-hidden': 'true' }, 'Stage'), grid);
  }

  return {
    el,
    render(state, view) {
      if (!state) {
        if (shape !== 'empty') {
          clear(el);
          el.appendChild(h('p', { class: 'muted' }, 'Loading seats…'));
          shape = 'empty';
        }
        return;
      }
      const want = `${state.eventId}:${state.rows}x${state.cols}:${state.seats.size}`;
      if (want !== shape) {
        build(state);
        shape = want;
      }
      for (const [id, s] of state.seats) {
        const b = buttons.get(id);
        if (!b) continue;
        const look = seatLook(s.status, view.mine.has(id), view.pending.has(id));
        const busy = view.pending.has(id);
        const key = `${look}|${busy}`;
        if (looks.get(id) === key) continue;
        looks.set(id, key);
        b.className = `seat seat--${look}${busy ? ' is-busy' : ''}`;
        b.dataset.state = look;
        const clickable = !busy && (look === 'available' || look === 'mine');
        b.setAttribute('aria-disabled', String(!clickable));
        b.setAttribute('aria-pressed', String(look === 'mine'));
        if (busy) b.setAttribute('aria-busy', 'true');
        else b.removeAttribute('aria-busy');
        const action = look === 'available' ? ' Press to hold.' : look === 'mine' ? ' Press to release.' : '';
        b.setAttribute('aria-label', `Seat ${s.label}, ${formatMoney(s.price)}, ${LOOK_TEXT[look]}.${action}`);
        b.title = `${s.label} · ${formatMoney(s.price)} · ${LOOK_TEXT[look]}`;
      }
    },
  };
}

export function seatLegend(): HTMLElement {
  const item = (look: SeatLook, text: string) =>
    h('li', null, h('span', { class: `swatch seat--${look}`, 'aria-hidden': 'true' }), text);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    item('available', 'Available'),
    item('mine', 'Held by you'),
    item('held', 'Held by others'),
    item('sold', 'Sold'),
  );
}
