// #/admin: the organiser's page over ticketd's admin API (loopback only,
// the admin key as Bearer). Paste the key (kept in sessionStorage), list the
// events with their state, create one (categories, sections, rows), publish
// or cancel it, block and unblock seats by clicking them on a preview of the
// map, and read the audit log. Every refusal shows ticketd's message and
// trace id.
import { h, clear } from '../../shared/dom';
import { errorMessage } from '../../shared/errorView';
import { formatMoney } from '../../shared/money';
import { formatEventDate } from '../events/eventDate';
import { getSeatMap } from '../seatmap/seatMapApi';
import { reduceSeatMap, type SeatLook, type SeatMapState, type SeatStatus } from '../seatmap/seatMapState';
import { presentSeat, seatContext, sectionGroups } from '../seatmap/seatView';
import { adminApi, type AdminEvent } from './adminApi';
import { AdminKeyStore } from './adminKey';
import {
  adminErrorText,
  basicsOf,
  buildCreateBody,
  buildPatchBody,
  emptyDraft,
  emptyRow,
  nextRowLabel,
  type AuditEntry,
  type BasicsDraft,
  type EventDraft,
  type FieldError,
} from './adminModel';

const AUDIT_LIMIT = 50;
const LOOK: Record<SeatStatus, SeatLook> = { AVAILABLE: 'available', HELD: 'held', SOLD: 'sold', BLOCKED: 'blocked' };

function problemBox(err: unknown): HTMLElement {
  const { traceId } = errorMessage(err);
  const code = (err as { code?: unknown }).code;
  return h(
    'div',
    { class: 'error', role: 'alert', 'data-code': typeof code === 'string' ? code : null },
    h('p', { class: 'error__message' }, adminErrorText(err)),
    traceId ? h('p', { class: 'trace' }, 'Trace id ', h('code', null, traceId)) : null,
  );
}

export function mountAdminPage(root: HTMLElement): () => void {
  const ctrl = new AbortController();
  const keys = new AdminKeyStore(sessionStorage);
  let events: AdminEvent[] = [];
  let draft: EventDraft = emptyDraft();
  let preview: { event: AdminEvent; map: SeatMapState; selected: Set<number> } | null = null;

  document.title = 'Admin · Tickets';
  clear(root);

  // ---- the key ----
  const keyInput = h('input', {
    id: 'admin-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'admin-key-hint',
    'data-testid': 'admin-key',
    class: 'admin__keyinput',
  }) as HTMLInputElement;
  const keyState = h('p', { class: 'admin__keystate', 'data-testid': 'admin-key-state' });
  const keyProblem = h('div');
  const forget = h('button', { type: 'button', class: 'btn btn--small' }, 'Forget key');
  const keyForm = h(
    'form',
    { class: 'admin__keyform' },
    h('label', { for: 'admin-key' }, 'Admin key'),
    keyInput,
    h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'admin-key-use' }, 'Use this key'),
  );
  const keyPanel = h(
    'section',
    { class: 'admin__panel', 'aria-labelledby': 'admin-key-title' },
    h('h2', { id: 'admin-key-title' }, 'Admin key'),
    h(
      'p',
      { id: 'admin-key-hint', class: 'muted' },
      'The 64 hex digits of the file admin.key in ticketd\'s state folder (under make run: ',
      h('code', null, 'cat .run/ticketd/admin.key'),
      '). The admin API answers only on the machine itself. The key stays in this tab (sessionStorage) and is forgotten when the tab closes.',
    ),
    keyForm,
    keyState,
    keyProblem,
  );

  // ---- messages ----
  const message = h('p', { class: 'admin__message', role: 'status', 'data-testid': 'admin-message' });
  const say = (text: string) => {
    message.textContent = text;
  };

  // ---- the events ----
  const eventsBody = h('div', { 'data-testid': 'admin-events' });
  const reload = h('button', { type: 'button', class: 'btn btn--small' }, 'Reload');
  const eventsPanel = h(
    'section',
    { class: 'admin__panel', 'aria-labelledby': 'admin-events-title' },
    h('div', { class: 'admin__head' }, h('h2', { id: 'admin-events-title' }, 'Events'), reload),
    eventsBody,
  );

  // ---- edit an event's own fields (PATCH) ----
  const editPanel = h('section', { class: 'admin__panel', 'aria-labelledby': 'admin-edit-title', hidden: true, 'data-testid': 'admin-edit' });

  // ---- seats: block and unblock on a preview ----
  const seatsPanel = h('section', { class: 'admin__panel', 'aria-labelledby': 'admin-seats-title', hidden: true, 'data-testid': 'admin-seats' });

  // ---- create ----
  const formProblems = h('div', { 'data-testid': 'admin-form-errors' });
  const dynamic = h('div');
  const createForm = h('form', { class: 'admin__form', novalidate: true, 'data-testid': 'admin-create' });
  const createPanel = h(
    'section',
    { class: 'admin__panel', 'aria-labelledby': 'admin-create-title' },
    h('h2', { id: 'admin-create-title' }, 'New event'),
    h('p', { class: 'muted' }, 'A new event starts as a draft: buyers see it once it is published. Times are UTC.'),
    createForm,
  );

  // ---- audit ----
  const auditEvent = h('select', { id: 'admin-audit-event', 'data-testid': 'admin-audit-event' });
  const auditBody = h('div', { 'data-testid': 'admin-audit' });
  const auditForm = h(
    'form',
    { class: 'admin__inline' },
    h('label', { for: 'admin-audit-event' }, 'Event'),
    auditEvent,
    h('button', { type: 'submit', class: 'btn btn--small', 'data-testid': 'admin-audit-show' }, 'Show'),
  );
  const auditPanel = h(
    'section',
    { class: 'admin__panel', 'aria-labelledby': 'admin-audit-title' },
    h('h2', { id: 'admin-audit-title' }, 'Audit log'),
    h('p', { class: 'muted' }, `Every admin change, newest first (at most ${AUDIT_LIMIT}).`),
    auditForm,
    auditBody,
  );

  const work = h('div', { class: 'admin__work' }, message, eventsPanel, editPanel, seatsPanel, createPanel, auditPanel);
  root.append(h('p', null, h('a', { href: '#/', class: 'back' }, '← All events')), h('h1', null, 'Admin'), keyPanel, work);

  const key = () => keys.get();

  function showKeyState(): void {
    const k = key();
    clear(keyState);
    work.hidden = !k;
    if (k) keyState.append(`Using the key ending in …${k.slice(-4)}. `, forget);
    else keyState.append('No key yet.');
  }

  keyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(keyProblem);
    if (!keys.set(keyInput.value)) {
      keyInput.setAttribute('aria-invalid', 'true');
      keyProblem.append(h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error__message' }, 'An admin key is 64 hex digits (0-9, a-f).')));
      keyInput.focus();
      return;
    }
    keyInput.removeAttribute('aria-invalid');
    keyInput.value = '';
    showKeyState();
    void loadEvents();
  });
  forget.addEventListener('click', () => {
    keys.clear();
    showKeyState();
    keyInput.focus();
  });

  // ---- events list ----
  async function loadEvents(): Promise<void> {
    const k = key();
    if (!k) return;
    eventsBody.setAttribute('aria-busy', 'true');
    try {
      events = await adminApi.listEvents(k, ctrl.signal);
      renderEvents();
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      clear(eventsBody);
      eventsBody.append(problemBox(err));
    } finally {
      eventsBody.removeAttribute('aria-busy');
    }
  }
  reload.addEventListener('click', () => void loadEvents());

  function renderEvents(): void {
    clear(eventsBody);
    const keep = auditEvent.value;
    clear(auditEvent);
    auditEvent.append(h('option', { value: '' }, 'All events'), ...events.map((e) => h('option', { value: String(e.id) }, `${e.id} · ${e.name}`)));
    auditEvent.value = events.some((e) => String(e.id) === keep) ? keep : '';
    if (events.length === 0) {
      eventsBody.append(h('p', { class: 'muted' }, 'No events yet.'));
      return;
    }
    const sale = (e: AdminEvent) =>
      e.saleStartsAt || e.saleEndsAt
        ? `${e.saleStartsAt ? formatEventDate(e.saleStartsAt) : 'now'} – ${e.saleEndsAt ? formatEventDate(e.saleEndsAt) : 'the show'}`
        : 'open';
    eventsBody.append(
      h(
        'table',
        { class: 'admin__table' },
        h('caption', { class: 'visually-hidden' }, 'Events with their state'),
        h('thead', null, h('tr', null, ['Id', 'Event', 'Starts', 'Sale', 'Categories', 'State', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          null,
          events.map((e) =>
            h(
              'tr',
              { 'data-event-id': String(e.id), 'data-state': String(e.state) },
              h('td', null, String(e.id)),
              h('td', null, h('strong', null, e.name), h('br'), h('span', { class: 'muted' }, e.venue)),
              h('td', null, e.startsAt ? formatEventDate(e.startsAt) : ''),
              h('td', null, sale(e)),
              h('td', null, (e.categories ?? []).map((c) => `${c.name} ${Number.isSafeInteger(c.price) ? formatMoney(c.price) : ''}`).join(', ') || '–'),
              h('td', null, h('span', { class: `state state--${String(e.state).toLowerCase()}`, 'data-testid': 'event-state' }, String(e.state))),
              h(
                'td',
                { class: 'admin__actions' },
                e.state === 'DRAFT' ? actionButton('publish', e, 'Publish') : null,
                e.state !== 'CANCELLED' ? actionButton('edit', e, 'Edit') : null,
                e.state !== 'CANCELLED' ? actionButton('cancel', e, 'Cancel') : null,
                actionButton('seats', e, 'Block seats'),
                actionButton('audit', e, 'Audit'),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function actionButton(action: string, e: AdminEvent, text: string): HTMLElement {
    return h(
      'button',
      { type: 'button', class: `btn btn--small${action === 'cancel' ? ' btn--quiet' : ''}`, 'data-action': action, 'data-event-id': String(e.id), 'aria-label': `${text}: ${e.name}` },
      text,
    );
  }

  eventsBody.addEventListener('click', (ev) => {
    const btn = (ev.target as Element).closest<HTMLButtonElement>('button[data-action]');
    const k = key();
    if (!btn || !k || btn.disabled) return;
    const id = Number(btn.dataset.eventId);
    const e = events.find((x) => x.id === id);
    if (!e) return;
    switch (btn.dataset.action) {
      case 'publish':
        void act(btn, () => adminApi.publish(k, id), `Event ${id} is published: buyers see it now.`);
        break;
      case 'cancel':
        if (!window.confirm(`Cancel "${e.name}"? Buyers can no longer hold seats for it.`)) return;
        void act(btn, () => adminApi.cancel(k, id), `Event ${id} is cancelled.`);
        break;
      case 'seats':
        void openSeats(e);
        break;
      case 'edit':
        openEdit(e);
        break;
      case 'audit':
        auditEvent.value = String(id);
        void loadAudit();
        auditPanel.scrollIntoView({ block: 'start' });
        break;
    }
  });

  async function act(btn: HTMLButtonElement, call: () => Promise<unknown>, done: string): Promise<void> {
    btn.disabled = true;
    say('');
    try {
      await call();
      say(done);
      await loadEvents();
    } catch (err) {
      btn.disabled = false;
      clear(message);
      message.append(problemBox(err));
    }
  }

  // ---- seats preview ----
  async function openSeats(e: AdminEvent): Promise<void> {
    seatsPanel.hidden = false;
    clear(seatsPanel);
    seatsPanel.append(h('h2', { id: 'admin-seats-title' }, `Block seats: ${e.name}`), h('p', { class: 'muted', 'aria-busy': 'true' }, 'Loading the seat map…'));
    try {
      const body = await getSeatMap(e.id, ctrl.signal);
      const map = reduceSeatMap(null, { type: 'snapshot', body, from: 'fetch' });
      if (!map) throw new Error('empty seat map');
      preview = { event: e, map, selected: new Set() };
      renderSeats();
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      preview = null;
      clear(seatsPanel);
      const draftHint =
        e.state === 'DRAFT' && (err as { status?: number }).status === 404
          ? h('p', { class: 'muted' }, 'A draft\'s seat map may not be public yet: give blocked seats in the rows of the create form, or block them once it is published.')
          : null;
      seatsPanel.append(h('h2', { id: 'admin-seats-title' }, `Block seats: ${e.name}`), problemBox(err));
      if (draftHint) seatsPanel.append(draftHint);
    }
    seatsPanel.scrollIntoView({ block: 'start' });
  }

  function renderSeats(): void {
    if (!preview) return;
    const { event: e, map, selected } = preview;
    const ctx = seatContext(map);
    clear(seatsPanel);
    const count = selected.size;
    const blockBtn = h('button', { type: 'button', class: 'btn btn--primary btn--small', 'data-seat-action': 'block', disabled: count === 0, 'data-testid': 'admin-block' }, `Block selected (${count})`);
    const unblockBtn = h('button', { type: 'button', class: 'btn btn--small', 'data-seat-action': 'unblock', disabled: count === 0, 'data-testid': 'admin-unblock' }, `Unblock selected (${count})`);
    const clearBtn = h('button', { type: 'button', class: 'btn btn--small', 'data-seat-action': 'clear', disabled: count === 0 }, 'Clear selection');
    const grids = sectionGroups(map).map((g) => {
      const id = g.section ? `admin-sec-${g.section.id}` : null;
      return [
        g.section ? h('h3', { class: 'seatmap__section', id }, g.section.name) : null,
        h(
          'div',
          { class: 'seatmap__grid', role: 'group', 'aria-labelledby': id, 'aria-label': id ? null : 'Seats', style: `--cols:${map.cols}` },
          g.seats.map((s) => {
            const look = LOOK[s.status] ?? 'held';
            const p = presentSeat(s, look, false, ctx);
            const selectable = s.status === 'AVAILABLE' || s.status === 'BLOCKED';
            const b = h(
              'button',
              {
                type: 'button',
                class: `${p.className}${selected.has(s.id) ? ' is-selected' : ''}`,
                style: `grid-row:${s.r - g.firstRow + 1};grid-column:${s.c + 1}`,
                'data-seat-id': String(s.id),
                'data-state': look,
                'aria-pressed': String(selected.has(s.id)),
                'aria-disabled': String(!selectable),
                'aria-label': `Seat ${s.label}, ${s.status === 'BLOCKED' ? 'blocked' : s.status.toLowerCase()}${selected.has(s.id) ? ', selected' : ''}`,
                title: p.title,
              },
              h('span', { class: 'seat__label' }, s.label),
              h('span', { class: 'seat__mark', 'aria-hidden': 'true' }, p.mark),
            );
            if (p.color) b.style.setProperty('--cat', p.color);
            return b;
          }),
        ),
      ];
    });
    seatsPanel.append(
      h('h2', { id: 'admin-seats-title' }, `Block seats: ${e.name}`),
      h('p', { class: 'muted' }, 'Click free seats to select them (again to unselect), then block them; blocked seats are never sold. Click blocked seats and unblock them to put them back on sale.'),
      h('div', { class: 'admin__inline' }, blockBtn, unblockBtn, clearBtn),
      h('div', { class: 'seatmap admin__preview' }, h('div', { class: 'stage', 'aria-hidden': 'true' }, 'Stage'), grids.flat()),
    );
  }

  seatsPanel.addEventListener('click', (ev) => {
    if (!preview) return;
    const target = ev.target as Element;
    const seat = target.closest<HTMLButtonElement>('button.seat');
    if (seat) {
      if (seat.getAttribute('aria-disabled') === 'true') return;
      const id = Number(seat.dataset.seatId);
      if (preview.selected.has(id)) preview.selected.delete(id);
      else preview.selected.add(id);
      renderSeats();
      seatsPanel.querySelector<HTMLButtonElement>(`button.seat[data-seat-id="${id}"]`)?.focus();
      return;
    }
    const btn = target.closest<HTMLButtonElement>('button[data-seat-action]');
    if (!btn || btn.disabled) return;
    if (btn.dataset.seatAction === 'clear') {
      preview.selected.clear();
      renderSeats();
      return;
    }
    void setBlocked(btn.dataset.seatAction === 'block');
  });

  async function setBlocked(blocked: boolean): Promise<void> {
    const k = key();
    if (!preview || !k) return;
    const { event: e } = preview;
    const ids = [...preview.selected].sort((a, b) => a - b);
    try {
      await adminApi.setBlocked(k, e.id, ids, blocked);
      say(`${ids.length} ${ids.length === 1 ? 'seat' : 'seats'} of event ${e.id} ${blocked ? 'blocked' : 'back on sale'}.`);
      await openSeats(e);
    } catch (err) {
      clear(message);
      message.append(problemBox(err));
    }
  }

  // ---- create form ----
  function field(path: string, label: string, value: string, attrs: Record<string, unknown> = {}, prefix = 'admin-f'): HTMLElement {
    const id = `${prefix}-${path.replace(/\./g, '-')}`;
    return h(
      'p',
      { class: 'admin__field' },
      h('label', { for: id }, label),
      h('input', { id, value, 'data-path': path, ...attrs }),
    );
  }

  function renderForm(): void {
    clear(createForm);
    createForm.append(
      basicsFieldset(draft, 'admin-f'),
      dynamic,
      formProblems,
      h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'admin-create-submit' }, 'Create draft event'),
    );
    renderDynamic();
  }

  /** The event's own fields, for the create form and the edit form (ids apart by prefix). */
  function basicsFieldset(d: BasicsDraft, prefix: string): HTMLElement {
    return h(
      'fieldset',
      { class: 'admin__fieldset' },
      h('legend', null, 'Event'),
      field('name', 'Name', d.name, { required: true }, prefix),
      field('venue', 'Venue', d.venue, { required: true }, prefix),
      field('startsAt', 'Starts (UTC)', d.startsAt, { type: 'datetime-local', required: true }, prefix),
      field('saleStartsAt', 'Sale opens (UTC, optional)', d.saleStartsAt, { type: 'datetime-local' }, prefix),
      field('saleEndsAt', 'Sale ends (UTC, optional)', d.saleEndsAt, { type: 'datetime-local' }, prefix),
      field('holdLimit', 'Hold limit per buyer (optional)', d.holdLimit, { inputmode: 'numeric' }, prefix),
      field('holdSeconds', 'Hold time, seconds (optional)', d.holdSeconds, { inputmode: 'numeric' }, prefix),
      field('maxHoldSeconds', 'Longest hold, seconds (optional)', d.maxHoldSeconds, { inputmode: 'numeric' }, prefix),
    );
  }

  /** Lists a form's problems in an alert, each a link to its input, and marks the inputs invalid. */
  function showProblems(box: HTMLElement, form: HTMLElement, errors: FieldError[], lead: string): void {
    clear(box);
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const list = h('ul', null);
    for (const e of errors) {
      const input = form.querySelector<HTMLElement>(`[data-path="${e.path}"]`);
      input?.setAttribute('aria-invalid', 'true');
      list.append(h('li', null, input ? h('a', { href: '#', 'data-focus': e.path, class: 'admin__errlink' }, e.message) : e.message));
    }
    box.append(h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error__message' }, lead), list));
    box.onclick = (ev) => {
      const a = (ev.target as Element).closest<HTMLElement>('a[data-focus]');
      if (!a) return;
      ev.preventDefault();
      form.querySelector<HTMLElement>(`[data-path="${a.dataset.focus}"]`)?.focus();
    };
  }

  function openEdit(e: AdminEvent): void {
    const before = basicsOf(e);
    const now: BasicsDraft = { ...before };
    const problems = h('div', { 'data-testid': 'admin-edit-errors' });
    const close = h('button', { type: 'button', class: 'btn' }, 'Close');
    const form = h(
      'form',
      { class: 'admin__form', novalidate: true },
      basicsFieldset(now, 'admin-e'),
      problems,
      h('div', { class: 'admin__inline' }, h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'admin-edit-save' }, 'Save changes'), close),
    );
    const onEdit = (ev: Event) => {
      const t = ev.target as HTMLInputElement;
      const k = t.dataset?.path as keyof BasicsDraft | undefined;
      if (k && k in now) {
        now[k] = t.value;
        t.removeAttribute('aria-invalid');
      }
    };
    form.addEventListener('input', onEdit);
    form.addEventListener('change', onEdit);
    close.addEventListener('click', () => {
      editPanel.hidden = true;
      clear(editPanel);
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const built = buildPatchBody(before, now);
      if (!built.ok) {
        showProblems(problems, form, built.errors, 'Please fix these before saving:');
        return;
      }
      const k = key();
      if (!k) return;
      clear(problems);
      adminApi
        .patchEvent(k, e.id, built.body)
        .then(async () => {
          say(`Event ${e.id} saved.`);
          editPanel.hidden = true;
          clear(editPanel);
          await loadEvents();
        })
        .catch((err) => problems.append(problemBox(err)));
    });
    clear(editPanel);
    editPanel.hidden = false;
    editPanel.append(h('h2', { id: 'admin-edit-title' }, `Edit event ${e.id}: ${e.name}`), h('p', { class: 'muted' }, 'Only the fields you change are sent. Empty a sale time to remove it. Times are UTC.'), form);
    editPanel.scrollIntoView({ block: 'start' });
    form.querySelector<HTMLElement>('input')?.focus();
  }

  function categoryOptions(selected: string): HTMLElement[] {
    return [
      h('option', { value: '', selected: selected === '' }, 'None'),
      ...draft.categories.map((c, i) => h('option', { value: String(i + 1), selected: selected === String(i + 1) }, c.name || `Category ${i + 1}`)),
    ];
  }

  function renderDynamic(): void {
    clear(dynamic);
    const cats = h(
      'fieldset',
      { class: 'admin__fieldset' },
      h('legend', null, 'Categories (price levels)'),
      draft.categories.map((c, i) =>
        h(
          'div',
          { class: 'admin__row', 'data-category-index': String(i) },
          field(`categories.${i}.name`, `Category ${i + 1} name`, c.name),
          field(`categories.${i}.price`, 'Price (EUR)', c.price, { inputmode: 'decimal' }),
          field(`categories.${i}.color`, 'Colour', c.color, { type: 'color' }),
          h('button', { type: 'button', class: 'btn btn--small btn--quiet', 'data-form-action': 'remove-category', 'data-index': String(i), 'aria-label': `Remove category ${i + 1}` }, 'Remove'),
        ),
      ),
      h('button', { type: 'button', class: 'btn btn--small', 'data-form-action': 'add-category' }, 'Add category'),
    );
    const sections = h(
      'fieldset',
      { class: 'admin__fieldset' },
      h('legend', null, 'Sections and rows'),
      draft.sections.map((s, i) =>
        h(
          'fieldset',
          { class: 'admin__section', 'data-section-index': String(i) },
          h('legend', null, `Section ${i + 1}`),
          h(
            'div',
            { class: 'admin__row' },
            field(`sections.${i}.name`, 'Section name', s.name),
            h('button', { type: 'button', class: 'btn btn--small btn--quiet', 'data-form-action': 'remove-section', 'data-index': String(i), 'aria-label': `Remove section ${i + 1}` }, 'Remove section'),
          ),
          s.rows.map((r, j) => {
            const at = `sections.${i}.rows.${j}`;
            const catId = `admin-f-${at.replace(/\./g, '-')}-category`;
            return h(
              'div',
              { class: 'admin__row admin__seatrow', 'data-row-index': String(j) },
              field(`${at}.label`, 'Row', r.label, { size: 4 }),
              field(`${at}.seats`, 'Seats', r.seats, { inputmode: 'numeric', size: 4 }),
              h(
                'p',
                { class: 'admin__field' },
                h('label', { for: catId }, 'Category'),
                h('select', { id: catId, 'data-path': `${at}.category`, 'data-role': 'row-category' }, categoryOptions(r.category)),
              ),
              field(`${at}.accessible`, 'Wheelchair seats', r.accessible, { placeholder: 'e.g. 1, 2' }),
              field(`${at}.companions`, 'Companion seats', r.companions, { placeholder: 'e.g. 3' }),
              field(`${at}.blocked`, 'Blocked seats', r.blocked, { placeholder: 'e.g. 10-12' }),
              h('button', { type: 'button', class: 'btn btn--small btn--quiet', 'data-form-action': 'remove-row', 'data-index': String(i), 'data-row': String(j), 'aria-label': `Remove row ${r.label || j + 1} of section ${i + 1}` }, 'Remove'),
            );
          }),
          h('button', { type: 'button', class: 'btn btn--small', 'data-form-action': 'add-row', 'data-index': String(i) }, 'Add row'),
        ),
      ),
      h('button', { type: 'button', class: 'btn btn--small', 'data-form-action': 'add-section' }, 'Add section'),
    );
    dynamic.append(cats, sections);
  }

  /** Writes an input's value into the draft at its data-path ("sections.0.rows.1.seats"). */
  function setPath(path: string, value: string): void {
    const parts = path.split('.');
    let at: Record<string, unknown> = draft as unknown as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) {
      const next = (at as Record<string, unknown>)[p];
      if (typeof next !== 'object' || next === null) return;
      at = next as Record<string, unknown>;
    }
    const last = parts[parts.length - 1];
    if (typeof at[last] === 'string') at[last] = value;
  }

  const onEdit = (ev: Event) => {
    const t = ev.target as HTMLInputElement | HTMLSelectElement;
    const path = t.dataset?.path;
    if (!path) return;
    setPath(path, t.value);
    t.removeAttribute('aria-invalid');
    // Category names label the rows' category choices: rename them in place (no rebuild, focus stays).
    const m = /^categories\.(\d+)\.name$/.exec(path);
    if (m) {
      const i = Number(m[1]);
      for (const sel of createForm.querySelectorAll<HTMLSelectElement>('select[data-role="row-category"]')) {
        const opt = sel.options[i + 1];
        if (opt) opt.textContent = t.value || `Category ${i + 1}`;
      }
    }
  };
  createForm.addEventListener('input', onEdit);
  createForm.addEventListener('change', onEdit);

  createForm.addEventListener('click', (ev) => {
    const btn = (ev.target as Element).closest<HTMLButtonElement>('button[data-form-action]');
    if (!btn) return;
    const i = Number(btn.dataset.index);
    let focus: string | null = null;
    switch (btn.dataset.formAction) {
      case 'add-category':
        draft.categories.push({ name: '', price: '', color: '#7d3c98' });
        focus = `categories.${draft.categories.length - 1}.name`;
        break;
      case 'remove-category':
        draft.categories.splice(i, 1);
        // Rows pointing at a later category move down with it; rows on the removed one lose it.
        for (const s of draft.sections) {
          for (const r of s.rows) {
            const c = Number(r.category);
            if (r.category === '') continue;
            if (c === i + 1) r.category = '';
            else if (c > i + 1) r.category = String(c - 1);
          }
        }
        break;
      case 'add-section':
        draft.sections.push({ name: '', rows: [emptyRow('A')] });
        focus = `sections.${draft.sections.length - 1}.name`;
        break;
      case 'remove-section':
        draft.sections.splice(i, 1);
        break;
      case 'add-row': {
        const rows = draft.sections[i].rows;
        const last = rows[rows.length - 1];
        rows.push({ ...emptyRow(nextRowLabel(last?.label)), seats: last?.seats ?? '10', category: last?.category ?? '' });
        focus = `sections.${i}.rows.${rows.length - 1}.seats`;
        break;
      }
      case 'remove-row':
        draft.sections[i].rows.splice(Number(btn.dataset.row), 1);
        break;
    }
    renderDynamic();
    const target = focus ? createForm.querySelector<HTMLElement>(`[data-path="${focus}"]`) : null;
    (target ?? createForm.querySelector<HTMLElement>(`button[data-form-action="${btn.dataset.formAction?.startsWith('remove') ? 'add-' + btn.dataset.formAction.slice(7) : btn.dataset.formAction}"]`))?.focus();
  });

  createForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void create();
  });

  async function create(): Promise<void> {
    clear(formProblems);
    for (const el of createForm.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const built = buildCreateBody(draft);
    if (!built.ok) {
      showProblems(formProblems, createForm, built.errors, 'Please fix these before creating the event:');
      return;
    }
    const k = key();
    if (!k) return;
    const submit = createForm.querySelector<HTMLButtonElement>('button[type="submit"]');
    if (submit) submit.disabled = true;
    try {
      const created = await adminApi.createEvent(k, built.body);
      say(`Event ${created.id} "${created.name}" created as a ${String(created.state ?? 'DRAFT').toLowerCase()}.`);
      draft = emptyDraft();
      renderForm();
      await loadEvents();
      message.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      formProblems.append(problemBox(err));
    } finally {
      if (submit) submit.disabled = false;
    }
  }

  // ---- audit ----
  auditForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void loadAudit();
  });

  async function loadAudit(): Promise<void> {
    const k = key();
    if (!k) return;
    clear(auditBody);
    auditBody.append(h('p', { class: 'muted' }, 'Loading…'));
    try {
      const entries = await adminApi.audit(k, auditEvent.value ? Number(auditEvent.value) : null, AUDIT_LIMIT, ctrl.signal);
      renderAudit(entries);
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      clear(auditBody);
      auditBody.append(problemBox(err));
    }
  }

  function renderAudit(entries: AuditEntry[]): void {
    clear(auditBody);
    if (entries.length === 0) {
      auditBody.append(h('p', { class: 'muted' }, 'No admin changes recorded.'));
      return;
    }
    auditBody.append(
      h(
        'table',
        { class: 'admin__table' },
        h('caption', { class: 'visually-hidden' }, 'Audit log'),
        h('thead', null, h('tr', null, ['When', 'Who', 'What', 'Event', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          null,
          entries.map((e) =>
            h(
              'tr',
              { class: 'audit__entry' },
              h('td', null, e.at ? h('time', { datetime: e.at }, formatEventDate(e.at)) : ''),
              h('td', null, e.actor),
              h('td', null, h('code', null, e.action)),
              h('td', null, e.eventId === null ? '' : String(e.eventId)),
              h('td', { class: 'audit__details' }, h('code', null, e.details)),
            ),
          ),
        ),
      ),
    );
  }

  showKeyState();
  renderForm();
  if (key()) void loadEvents();
  return () => ctrl.abort();
}
