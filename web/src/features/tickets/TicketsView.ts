// The tickets of a confirmed order, under the checkout's confirmation: per
// seat the event, the seat label, its QR code (fetched with the session
// token, shown through a blob: URL) and the ticket text to copy; "Print
// tickets" prints them one per page (styles.css, @media print).
import { h, clear } from '../../shared/dom';
import { errorBox } from '../../shared/errorView';
import { getTicketImage, getTickets, type OrderTickets, type Ticket } from './ticketsApi';
import { IMAGE_CONCURRENCY, loadTickets, mapLimit, type TicketsState } from './ticketsModel';

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    }, { once: true });
  });
}

/** Mounts the tickets section into host; returns the unmount (stops loading, frees the blob URLs). */
export function mountTickets(host: HTMLElement, orderId: string, eventName: string | null): () => void {
  const ctrl = new AbortController();
  const urls: string[] = [];
  const section = h('section', { class: 'tickets', 'aria-labelledby': 'tickets-title', 'data-testid': 'tickets' });
  host.appendChild(section);

  const render = (state: TicketsState) => {
    clear(section);
    section.dataset.state = state.kind;
    const title = h('h2', { id: 'tickets-title', class: 'tickets__title' }, 'Your tickets');
    switch (state.kind) {
      case 'loading':
        section.append(title, h('p', { class: 'muted', role: 'status' }, 'Loading your tickets…'));
        break;
      case 'waiting':
        section.append(title, h('p', { class: 'muted', role: 'status' }, `Your order is being finalised; the tickets follow in a moment (try ${state.attempt}).`));
        break;
      case 'error': {
        const again = h('button', { type: 'button', class: 'btn' }, 'Try again');
        again.addEventListener('click', () => void start());
        section.append(title, errorBox(state.error, h('p', null, again)));
        break;
      }
      case 'ready':
        renderReady(title, state.data, state.many);
        break;
    }
  };

  const renderReady = (title: HTMLElement, data: OrderTickets, many: boolean) => {
    const n = data.tickets.length;
    title.textContent = n === 1 ? 'Your ticket' : `Your ${n} tickets`;
    const print = h('button', { type: 'button', class: 'btn btn--primary', 'data-testid': 'print-tickets' }, 'Print tickets');
    print.addEventListener('click', () => window.print());
    section.append(
      h('div', { class: 'tickets__toolbar' }, title, n > 0 ? print : null),
      h('p', { class: 'muted tickets__hint' }, n === 0 ? 'This order has no tickets.' : many ? `Show the QR code at the door. ${n} seats: each ticket prints on its own page.` : 'Show the QR code at the door, on screen or printed.'),
    );
    const blocks = data.tickets.map((t) => ticketBlock(t, n, eventName));
    section.append(h('ol', { class: many ? 'tickets__list tickets__list--many' : 'tickets__list' }, blocks.map((b) => b.el)));
    void mapLimit(blocks, IMAGE_CONCURRENCY, (b) => b.load());
  };

  const ticketBlock = (t: Ticket, count: number, event: string | null) => {
    const qr = h('div', { class: 'ticket__qr', 'data-qr': 'loading' }, h('span', { class: 'muted' }, 'Loading QR code…'));
    const text = h('textarea', { class: 'ticket__text', readonly: true, rows: 4, spellcheck: 'false', 'aria-label': `Ticket text for seat ${t.seatLabel}` });
    text.value = t.ticket;
    text.addEventListener('focus', () => text.select());
    const copy = h('button', { type: 'button', class: 'btn btn--small ticket__copy' }, 'Copy');
    copy.addEventListener('click', () => {
      text.select();
      const done = () => (copy.textContent = 'Copied');
      if (navigator.clipboard) navigator.clipboard.writeText(t.ticket).then(done, () => undefined);
      else if (document.execCommand?.('copy')) done();
    });
    const el = h(
      'li',
      { class: 'ticket', 'data-seat-id': String(t.seatId) },
      h(
        'div',
        { class: 'ticket__head' },
        event ? h('p', { class: 'ticket__event' }, event) : null,
        h('p', { class: 'ticket__seat' }, 'Seat ', h('strong', null, t.seatLabel)),
        h('p', { class: 'muted ticket__serial' }, `Ticket ${t.serial} of ${count}`),
      ),
      qr,
      h('div', { class: 'ticket__textrow' }, text, copy),
    );
    const load = async () => {
      try {
        const blob = await getTicketImage(orderId, t.png, ctrl.signal);
        const url = URL.createObjectURL(blob);
        urls.push(url);
        const img = h('img', { class: 'ticket__qrimg', src: url, alt: `QR code of the ticket for seat ${t.seatLabel}`, width: 240, height: 240 });
        clear(qr);
        qr.dataset.qr = 'ready';
        qr.appendChild(img);
      } catch (err) {
        if ((err as Error).name === 'AbortError') return;
        clear(qr);
        qr.dataset.qr = 'error';
        const again = h('button', { type: 'button', class: 'btn btn--small' }, 'Retry');
        again.addEventListener('click', () => {
          clear(qr);
          qr.dataset.qr = 'loading';
          qr.appendChild(h('span', { class: 'muted' }, 'Loading QR code…'));
          void load();
        });
        qr.append(h('p', { class: 'muted' }, 'The QR code did not load. The ticket text below works at the door too.'), again);
      }
    };
    return { el, load };
  };

  const start = () =>
    loadTickets(orderId, { get: getTickets, sleep, onState: render }, ctrl.signal).catch((err) => {
      if ((err as Error).name !== 'AbortError') render({ kind: 'error', error: err });
    });

  void start();

  return () => {
    ctrl.abort();
    for (const u of urls) URL.revokeObjectURL(u);
    section.remove();
  };
}
