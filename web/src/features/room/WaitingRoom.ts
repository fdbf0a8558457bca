// The waiting-room view: place in line, estimated wait, a progress bar from
// where this visitor started, the sale start when it is still ahead, and how
// the page is kept up to date. Every row is always in the layout (an empty
// one keeps its height), so updates never move the page. The numbers change
// every second; the polite live region speaks only when something is news
// (see shouldAnnounce), so a screen reader is not talked over.
import { h } from '../../shared/dom';
import { errorMessage } from '../../shared/errorView';
import { formatEventDate } from '../events/eventDate';
import {
  announcementFor,
  formatStartsIn,
  formatWait,
  progressOf,
  saleAhead,
  shouldAnnounce,
} from './roomModel';
import type { RoomView } from './roomSession';

export interface WaitingRoomView {
  el: HTMLElement;
  render(view: RoomView, nowMs: number): void;
}

const LINK_TEXT = {
  connecting: 'Connecting to the waiting room…',
  stream: 'Your place updates live. Keep this page open; a reload keeps your place.',
  polling: 'Live updates paused: checking your place every few seconds.',
} as const;

export function createWaitingRoom(): WaitingRoomView {
  const title = h('h2', { class: 'room__title', id: 'room-title' }, 'You are in the waiting room');
  const lead = h('p', { class: 'room__lead' });
  const position = h('dd', { class: 'room__value', 'data-testid': 'room-position' }, '–');
  const wait = h('dd', { class: 'room__value', 'data-testid': 'room-wait' }, '–');
  const bar = h('progress', {
    class: 'room__progress',
    max: '100',
    value: '0',
    'aria-labelledby': 'room-progress-label',
    'data-testid': 'room-progress',
  });
  const barLabel = h('span', { id: 'room-progress-label', class: 'room__progress-label' }, 'Your progress through the line');
  const barText = h('span', { class: 'room__progress-text muted', 'aria-hidden': 'true' }, '0 %');
  const starts = h('p', { class: 'room__starts', 'data-testid': 'room-starts' });
  const status = h('p', { class: 'room__status muted', 'data-testid': 'room-link' });
  const problem = h('div', { class: 'room__problem' });
  const announce = h('p', { class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true', 'data-testid': 'room-announce' });
  const el = h(
    'section',
    { class: 'room', 'aria-labelledby': 'room-title', 'data-testid': 'waiting-room', 'data-room-state': 'joining' },
    title,
    lead,
    h(
      'dl',
      { class: 'room__facts' },
      h('div', { class: 'room__fact' }, h('dt', null, 'Your place in line'), position),
      h('div', { class: 'room__fact' }, h('dt', null, 'Estimated wait'), wait),
    ),
    h('div', { class: 'room__bar' }, h('div', { class: 'room__bar-head' }, barLabel, barText), bar),
    starts,
    status,
    problem,
    announce,
  );
  let last: { text: string; at: number; position: number } | null = null;

  let force = false;
  const say = (text: string, pos: number, nowMs: number) => {
    if (!force && !shouldAnnounce(last, text, pos, nowMs)) return;
    announce.textContent = text;
    last = { text, at: nowMs, position: pos };
  };

  return {
    el,
    render(view, nowMs) {
      // A new state is always news; within one state, shouldAnnounce decides.
      force = el.dataset.roomState !== view.kind;
      el.dataset.roomState = view.kind;
      problem.replaceChildren();
      switch (view.kind) {
        case 'joining':
          title.textContent = 'Checking the waiting room';
          lead.textContent = 'One moment: asking for your place in line…';
          status.textContent = '';
          return;
        case 'retrying': {
          const { message } = errorMessage(view.error);
          title.textContent = 'The waiting room is busy';
          lead.textContent = 'Your place is not lost. We try again by ourselves.';
          status.textContent = `Trying again in ${Math.ceil(view.retryInMs / 1000)} s…`;
          problem.append(h('p', { class: 'error__message' }, message));
          say('The waiting room is busy. Trying again.', last?.position ?? 0, nowMs);
          return;
        }
        case 'open':
        case 'admitted':
          title.textContent = 'It is your turn';
          lead.textContent = 'Opening the seat map…';
          bar.value = 100;
          barText.textContent = '100 %';
          say('It is your turn. The seat map is opening.', 0, nowMs);
          return;
        case 'waiting': {
          const ahead = saleAhead(view.startsAt, nowMs);
          title.textContent = 'You are in the waiting room';
          lead.textContent = ahead
            ? 'The sale has not started yet. Everyone who arrives before the start gets a place in line drawn at random, so there is no need to hurry or reload.'
            : 'Many people want tickets right now. You are in line and will move to the seat map by yourself when it is your turn.';
          position.textContent = view.position <= 0 ? 'Next' : view.position.toLocaleString('en-IE');
          wait.textContent = formatWait(view.estimatedWaitSeconds);
          const pct = Math.round(progressOf(view.startPosition, view.position) * 100);
          bar.value = pct;
          barText.textContent = `${pct} %`;
          if (view.startsAt && ahead) {
            const t = Date.parse(view.startsAt);
            starts.replaceChildren(
              'Sale starts ',
              h('time', { datetime: view.startsAt }, formatEventDate(view.startsAt)),
              ` (${formatStartsIn(t, nowMs)}).`,
            );
          } else {
            starts.replaceChildren();
          }
          status.textContent = LINK_TEXT[view.link];
          say(announcementFor(view.position, view.estimatedWaitSeconds, ahead), view.position, nowMs);
          return;
        }
      }
    },
  };
}
