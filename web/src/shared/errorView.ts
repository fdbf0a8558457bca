// Shows an error the way support needs it: the server's message, and its
// trace id in small print.
import { ApiError } from './http';
import { h } from './dom';

export function errorMessage(err: unknown): { message: string; traceId: string | null } {
  if (err instanceof ApiError) return { message: err.message, traceId: err.traceId };
  if (err instanceof Error) return { message: err.message, traceId: null };
  return { message: String(err), traceId: null };
}

export function errorBox(err: unknown, extra?: Node): HTMLElement {
  const { message, traceId } = errorMessage(err);
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', { class: 'error__message' }, message),
    traceId ? h('p', { class: 'trace' }, 'Trace id ', h('code', null, traceId)) : null,
    extra ?? null,
  );
}

/** A short-lived notice in the page's notice area (errors stay until closed). */
export function notify(err: unknown): void {
  const area = document.getElementById('notices');
  if (!area) return;
  const close = h('button', { class: 'notice__close', type: 'button', 'aria-label': 'Dismiss' }, '×');
  const box = h('div', { class: 'notice' }, errorBox(err), close);
  close.addEventListener('click', () => box.remove());
  area.appendChild(box);
  // Keep the stack short.
  while (area.children.length > 3) area.firstElementChild?.remove();
  setTimeout(() => box.remove(), 12_000);
}
