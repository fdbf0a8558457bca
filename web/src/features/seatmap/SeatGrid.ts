// The seat grid: one button per seat, coloured by its look (and, when free,
// by its category). Built once per map shape and then updated in place, so
// focus and scroll survive updates. An event with sections gets a heading
// and a grid per section; one without gets today's single grid.
import { h, clear } from '../../shared/dom';
import { seatLook, type SeatLook, type SeatMapState } from './seatMapState';
import { ACCESSIBLE_ICON, COMPANION_MARK, categoryLegend, legendMarks, presentSeat, seatContext, sectionGroups } from './seatView';

export interface SeatGridView {
  /** Seats this session holds (server-confirmed). */
  mine: ReadonlySet<number>;
  /** Seats with a hold or release request of ours in flight. */
  pending: ReadonlySet<number>;
  /** False before the sale opens or after it ended: nothing is selectable. Default true. */
  saleOpen?: boolean;
}

export interface SeatGrid {
  el: HTMLElement;
  render(state: SeatMapState | null, view: SeatGridView): void;
}

export function createSeatGrid(onSeat: (seatId: number, look: SeatLook) => void): SeatGrid {
  const el = h('div', { class: 'seatmap' });
  let shape = '';
  const buttons = new Map<number, HTMLButtonElement>();
  const marks = new Map<number, HTMLElement>();
  const looks = new Map<number, string>();

  el.addEventListener('click', (ev) => {
    const btn = (ev.target as Element).closest<HTMLButtonElement>('button.seat');
    if (!btn || btn.getAttribute('aria-disabled') === 'true') return;
    onSeat(Number(btn.dataset.seatId), btn.dataset.state as SeatLook);
  });

  function build(state: SeatMapState): void {
    clear(el);
    buttons.clear();
    marks.clear();
    looks.clear();
    el.append(h('div', { class: 'stage', 'aria-hidden': 'true' }, 'Stage'));
    for (const g of sectionGroups(state)) {
      const headingId = g.section ? `seatmap-section-${state.eventId}-${g.section.id}` : null;
      if (g.section) el.append(h('h3', { class: 'seatmap__section', id: headingId }, g.section.name));
      const grid = h('div', {
        class: 'seatmap__grid',
        role: 'group',
        'aria-labelledby': headingId,
        'aria-label': headingId ? null : `Seats, ${state.rows} rows of ${state.cols}`,
        style: `--cols:${state.cols}`,
        dataset: g.section ? { sectionId: String(g.section.id) } : undefined,
      });
      for (const s of g.seats) {
        const b = h('button', {
          type: 'button',
          class: 'seat',
          style: `grid-row:${s.r - g.firstRow + 1};grid-column:${s.c + 1}`,
          dataset: { seatId: String(s.id) },
        }) as HTMLButtonElement;
        b.appendChild(h('span', { class: 'seat__label' }, s.label));
        const mark = h('span', { class: 'seat__mark', 'aria-hidden': 'true' });
        b.appendChild(mark);
        if (s.category !== undefined) b.dataset.category = String(s.category);
        if (s.accessible) b.dataset.accessible = 'true';
        if (s.companion) b.dataset.companion = 'true';
        buttons.set(s.id, b);
        marks.set(s.id, mark);
        grid.appendChild(b);
      }
      el.append(grid);
    }
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
      if (state.layoutKey !== shape) {
        build(state);
        shape = state.layoutKey;
      }
      const ctx = seatContext(state);
      const saleOpen = view.saleOpen ?? true;
      for (const [id, s] of state.seats) {
        const b = buttons.get(id);
        if (!b) continue;
        const look = seatLook(s.status, view.mine.has(id), view.pending.has(id));
        const busy = view.pending.has(id);
        const key = `${look}|${busy}|${saleOpen}`;
        if (looks.get(id) === key) continue;
        looks.set(id, key);
        const p = presentSeat(s, look, busy, ctx, saleOpen);
        b.className = p.className;
        b.dataset.state = look;
        if (p.color) b.style.setProperty('--cat', p.color);
        else b.style.removeProperty('--cat');
        const mark = marks.get(id);
        if (mark) mark.textContent = p.mark;
        b.setAttribute('aria-disabled', String(!p.clickable));
        b.setAttribute('aria-pressed', String(look === 'mine'));
        if (busy) b.setAttribute('aria-busy', 'true');
        else b.removeAttribute('aria-busy');
        b.setAttribute('aria-label', p.ariaLabel);
        b.title = p.title;
      }
    },
  };
}

/**
 * The legend: the states, then (only when the map has them) blocked seats,
 * wheelchair spaces, companion seats and the categories with their price
 * and the seats left in each. Call update() with every new map.
 */
export function createSeatLegend(): { el: HTMLElement; update(state: SeatMapState | null): void } {
  const item = (look: SeatLook, text: string) =>
    h('li', null, h('span', { class: `swatch seat--${look}`, 'aria-hidden': 'true' }), text);
  const states = h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    item('available', 'Available'),
    item('mine', 'Held by you'),
    item('held', 'Held by others'),
    item('sold', 'Sold'),
  );
  const blocked = item('blocked', 'Not on sale');
  const accessible = h('li', null, h('span', { class: 'swatch swatch--mark', 'aria-hidden': 'true' }, ACCESSIBLE_ICON), 'Wheelchair space');
  const companion = h('li', null, h('span', { class: 'swatch swatch--mark', 'aria-hidden': 'true' }, COMPANION_MARK), 'Companion seat');
  const categories = h('ul', { class: 'legend legend--categories', 'aria-label': 'Price categories', 'data-testid': 'category-legend' });
  const el = h('div', { class: 'legends' }, states, categories);
  let last = '';
  return {
    el,
    update(state) {
      const m = state ? legendMarks(state.seats.values()) : { accessible: false, companion: false, blocked: false };
      const entries = state ? categoryLegend(state.categories, state.seats.values()) : [];
      const sig = JSON.stringify([m, entries]);
      if (sig === last) return;
      last = sig;
      for (const [node, on] of [[blocked, m.blocked], [accessible, m.accessible], [companion, m.companion]] as const) {
        if (on && !node.isConnected) states.append(node);
        else if (!on) node.remove();
      }
      clear(categories);
      categories.hidden = entries.length === 0;
      for (const e of entries) {
        const swatch = h('span', { class: 'swatch swatch--cat', 'aria-hidden': 'true' });
        if (e.color) swatch.style.setProperty('--cat', e.color);
        categories.append(
          h(
            'li',
            { 'data-category-id': String(e.id) },
            swatch,
            h('span', { class: 'legend__name' }, e.name),
            h('span', { class: 'legend__price' }, e.price),
            h('span', { class: 'legend__left muted' }, `${e.available} left`),
          ),
        );
      }
    },
  };
}
