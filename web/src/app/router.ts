// Hash routes, so that ticketd only ever serves GET / for the page.
// #/events/{id} goes through the waiting room first (app/EventGate.ts): the
// room and the seat map share one address, so a reload or a shared link
// always asks the room again. #/admin is the organiser's page (its code is
// loaded only when opened).
export type Route =
  | { page: 'events' }
  | { page: 'event'; eventId: number }
  | { page: 'checkout'; eventId: number }
  | { page: 'admin' }
  | { page: 'not-found' };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/' || path === '') return { page: 'events' };
  if (/^\/admin\/?$/.test(path)) return { page: 'admin' };
  let m = /^\/events\/(\d{1,9})\/?$/.exec(path);
  if (m) return { page: 'event', eventId: Number(m[1]) };
  m = /^\/events\/(\d{1,9})\/checkout\/?$/.exec(path);
  if (m) return { page: 'checkout', eventId: Number(m[1]) };
  return { page: 'not-found' };
}
