// "Best available" beside the map: how many seats (1..8), optionally a
// category, a section and wheelchair spaces; the server picks and holds
// them (POST /api/reservations/best) and the page puts what it granted in
// the cart. The answer is spoken through a polite status line, a refusal
// through an alert with the server's trace id.
import { h, clear } from '../../shared/dom';
import { errorMessage } from '../../shared/errorView';
import { formatMoney } from '../../shared/money';
import type { Category, Section } from '../seatmap/seatMapState';
import type { BestGranted } from './bestApi';
import { MAX_COUNT, buildBestRequest, describeRequest, grantedText, pickerErrorText, type BestRequest } from './pickerModel';

export interface BestPickerDeps {
  eventId: number;
  hold(body: BestRequest): Promise<BestGranted>;
  /** The server held these seats for us. */
  onGranted(granted: BestGranted): void;
  /** Returns true when the page handles the refusal itself (e.g. back to the waiting room). */
  onRefused?(err: unknown): boolean;
  seatLabel(seatId: number): string;
}

export interface PickerOptions {
  categories: readonly Category[];
  sections: readonly Section[];
  /** The map has wheelchair spaces: offer the checkbox. */
  accessible: boolean;
  saleOpen: boolean;
}

export interface BestPicker {
  el: HTMLElement;
  update(opts: PickerOptions): void;
}

let seq = 0;

export function createBestPicker(deps: BestPickerDeps): BestPicker {
  const id = `picker-${++seq}`;
  const count = h('select', { id: `${id}-count`, name: 'count', 'data-testid': 'picker-count' },
    Array.from({ length: MAX_COUNT }, (_, i) => h('option', { value: String(i + 1), selected: i === 1 }, String(i + 1))));
  const category = h('select', { id: `${id}-category`, name: 'category', 'data-testid': 'picker-category' });
  const section = h('select', { id: `${id}-section`, name: 'section', 'data-testid': 'picker-section' });
  const accessible = h('input', { type: 'checkbox', id: `${id}-accessible`, name: 'accessible', 'data-testid': 'picker-accessible' });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary picker__submit', 'data-testid': 'picker-submit' }, 'Find seats');
  const status = h('div', { class: 'picker__status', role: 'status', 'aria-live': 'polite', 'data-testid': 'picker-status' });
  const problem = h('div', { class: 'picker__problem', 'data-testid': 'picker-error' });
  const field = (label: string, control: HTMLElement) =>
    h('p', { class: 'picker__field' }, h('label', { for: control.id }, label), control);
  const categoryRow = field('Category', category);
  const sectionRow = field('Section', section);
  const accessibleRow = h('p', { class: 'picker__field picker__check' }, accessible, h('label', { for: accessible.id }, 'Accessible seats (wheelchair spaces)'));
  const form = h(
    'form',
    { class: 'picker__form', novalidate: true },
    field('Seats', count),
    categoryRow,
    sectionRow,
    accessibleRow,
    submit,
  );
  const el = h(
    'section',
    { class: 'picker', 'aria-labelledby': `${id}-title`, 'data-testid': 'best-picker' },
    h('h2', { class: 'picker__title', id: `${id}-title` }, 'Best available'),
    h('p', { class: 'picker__hint muted' }, 'We pick the best free seats, side by side when we can, and hold them for you.'),
    form,
    status,
    problem,
  );

  let names = { categories: new Map<number, string>(), sections: new Map<number, string>() };
  let saleOpen = true;
  let busy = false;
  let lastLists = '';

  const setOptions = (select: HTMLSelectElement, anyText: string, items: readonly { id: number; name: string }[]) => {
    const keep = select.value;
    clear(select);
    select.append(h('option', { value: '' }, anyText), ...items.map((x) => h('option', { value: String(x.id) }, x.name)));
    if (items.some((x) => String(x.id) === keep)) select.value = keep;
  };
  const sync = () => {
    submit.disabled = busy || !saleOpen;
    if (busy) submit.setAttribute('aria-busy', 'true');
    else submit.removeAttribute('aria-busy');
    submit.textContent = busy ? 'Finding seats…' : 'Find seats';
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (busy || !saleOpen) return;
    clear(problem);
    const built = buildBestRequest(deps.eventId, {
      count: count.value,
      category: categoryRow.hidden ? '' : category.value,
      section: sectionRow.hidden ? '' : section.value,
      accessible: !accessibleRow.hidden && accessible.checked,
    });
    if (!built.ok) {
      problem.append(h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error__message' }, built.message)));
      return;
    }
    const asked = describeRequest(built.body, names);
    busy = true;
    sync();
    status.textContent = `Looking for ${asked}…`;
    deps
      .hold(built.body)
      .then((granted) => {
        deps.onGranted(granted);
        const text = grantedText(granted.seatIds.map((s) => deps.seatLabel(s)), granted.together !== false);
        clear(status);
        status.append(h('p', { class: 'picker__held' }, text.held));
        if (text.apart) status.append(h('p', { class: 'picker__apart', 'data-testid': 'picker-apart' }, h('strong', null, 'Not together. '), text.apart));
      })
      .catch((err) => {
        status.textContent = '';
        if (deps.onRefused?.(err)) return;
        const { traceId } = errorMessage(err);
        problem.append(
          h(
            'div',
            { class: 'error', role: 'alert', 'data-code': (err as { code?: string }).code ?? null },
            h('p', { class: 'error__message' }, pickerErrorText(err, asked)),
            traceId ? h('p', { class: 'trace' }, 'Trace id ', h('code', null, traceId)) : null,
          ),
        );
      })
      .finally(() => {
        busy = false;
        sync();
      });
  });

  return {
    el,
    update(opts) {
      const lists = JSON.stringify([opts.categories, opts.sections]);
      if (lists !== lastLists) {
        lastLists = lists;
        names = {
          categories: new Map(opts.categories.map((c) => [c.id, c.name])),
          sections: new Map(opts.sections.map((s) => [s.id, s.name])),
        };
        setOptions(category, 'Any category', opts.categories.map((c) => ({ id: c.id, name: Number.isSafeInteger(c.price) ? `${c.name} (${formatMoney(c.price)})` : c.name })));
        setOptions(section, 'Any section', opts.sections);
        categoryRow.hidden = opts.categories.length === 0;
        sectionRow.hidden = opts.sections.length === 0;
      }
      accessibleRow.hidden = !opts.accessible;
      if (saleOpen !== opts.saleOpen) {
        saleOpen = opts.saleOpen;
        sync();
      }
    },
  };
}
