// Shows an error the way support needs it: the server's message, and its
// trace id in small print.
import { ApiError, onBusy, type BusyState } from './http';
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

/** The text of the busy notice for a retry state. */
export function busyText(state: BusyState): string {
  const s = state.retryInSeconds;
  return `The server is busy. Retrying in ${s} s (attempt ${state.attempt}).`;
}

let busyBox: HTMLElement | null = null;

/** Shows (or, with null, removes) the one "busy, retrying" notice. */
export function showBusy(state: BusyState | null): void {
  const area = document.getElementById('notices');
  if (!state) {
    busyBox?.remove();
    busyBox = null;
    return;
  }
  if (!area) return;
  if (!busyBox || !busyBox.isConnected) {
    busyBox = h('div', { class: 'notice notice--busy', role: 'status' }, h('p', { class: 'busy__message' }, ''));
    area.appendChild(busyBox);
  }
  const p = busyBox.querySelector('.busy__message');
  if (p) p.textContent = busyText(state);
}

/** Makes the page show the server's "busy, retrying" state (call once at start). */
export function installBusyNotice(): void {
  onBusy(showBusy);
}
