import './styles.css';
import { h, clear } from './shared/dom';
import { useTokenSource } from './shared/http';
import { errorBox, installBusyNotice } from './shared/errorView';
import { SessionStore } from './features/session/session';
import { mountEventList } from './features/events/EventList';
import { createLiveBadge } from './features/seatmap/LiveBadge';
import { mountCheckout } from './features/checkout/CheckoutPage';
import { mountEventGate } from './app/EventGate';
import { parseRoute } from './app/router';

useTokenSource(new SessionStore(localStorage));
installBusyNotice();

const main = document.getElementById('main') as HTMLElement;
const liveSlot = document.getElementById('live-slot') as HTMLElement;
let unmount: (() => void) | null = null;
let firstRoute = true;

function route(): void {
  unmount?.();
  unmount = null;
  clear(liveSlot);
  document.title = 'Tickets';
  const r = parseRoute(location.hash);
  switch (r.page) {
    case 'events':
      unmount = mountEventList(main);
      break;
    case 'event': {
      const badge = createLiveBadge();
      liveSlot.appendChild(badge.el);
      unmount = mountEventGate(main, r.eventId, badge);
      break;
    }
    case 'checkout':
      document.title = 'Checkout · Tickets';
      unmount = mountCheckout(main, r.eventId);
      break;
    case 'admin': {
      // The admin page is a chunk of its own: buyers never download it.
      document.title = 'Admin · Tickets';
      let gone = false;
      let inner: (() => void) | null = null;
      unmount = () => {
        gone = true;
        inner?.();
      };
      clear(main);
      main.append(h('p', { class: 'muted' }, 'Loading the admin page…'));
      import('./features/admin/AdminPage')
        .then((m) => {
          if (!gone) inner = m.mountAdminPage(main);
        })
        .catch((err) => {
          if (gone) return;
          clear(main);
          main.append(errorBox(err));
        });
      break;
    }
    case 'not-found':
      clear(main);
      main.append(h('h1', null, 'Page not found'), h('p', null, h('a', { href: '#/' }, 'See all events')));
      break;
  }
  // After a page change, move focus to the new content (screen readers start there).
  if (!firstRoute) main.focus({ preventScroll: true });
  firstRoute = false;
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
