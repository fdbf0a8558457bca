// Says whether the seat map is live (the stream is connected).
import { h } from '../../shared/dom';
import type { StreamStatus } from './seatStream';

const TEXT: Record<StreamStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

export interface LiveBadge {
  el: HTMLElement;
  set(s: StreamStatus): void;
}

export function createLiveBadge(): LiveBadge {
  const label = h('span', { class: 'live__text' }, TEXT.connecting);
  const el = h(
    'span',
    { class: 'live live--connecting', role: 'status', 'data-live': 'connecting', title: 'Seat changes arrive live while this says Live' },
    h('span', { class: 'live__dot', 'aria-hidden': 'true' }),
    label,
  );
  return {
    el,
    set(s) {
      el.className = `live live--${s}`;
      el.dataset.live = s;
      label.textContent = TEXT[s];
    },
  };
}
