import { describe, expect, it } from 'vitest';
import {
  TicketStore,
  announcementFor,
  formatStartsIn,
  formatWait,
  nextStartPosition,
  parsePositionFrame,
  parseRoomAnswer,
  progressOf,
  saleAhead,
  shouldAnnounce,
  ANNOUNCE_EVERY_MS,
} from './roomModel';
import { MemoryStorage } from '../../testing/memoryStorage';

describe('formatWait', () => {
  it('says_less_than_a_minute_under_60_s', () => {
    expect(formatWait(0)).toBe('Less than a minute');
    expect(formatWait(59.9)).toBe('Less than a minute');
  });
  it('rounds_minutes_up', () => {
    expect(formatWait(60)).toBe('About 1 minute');
    expect(formatWait(61)).toBe('About 2 minutes');
    expect(formatWait(45 * 60)).toBe('About 45 minutes');
    expect(formatWait(59 * 60 + 1)).toBe('About 1 hour');
  });
  it('rounds_to_5_minutes_past_an_hour', () => {
    expect(formatWait(3600)).toBe('About 1 hour');
    expect(formatWait(3600 + 61)).toBe('About 1 hour 5 minutes');
    expect(formatWait(2 * 3600 + 20 * 60)).toBe('About 2 hours 20 minutes');
    expect(formatWait(3 * 3600 - 60)).toBe('About 3 hours');
  });
  it('caps_at_a_day_and_refuses_nonsense', () => {
    expect(formatWait(2 * 86400)).toBe('More than a day');
    expect(formatWait(null)).toBe('Calculating…');
    expect(formatWait(undefined)).toBe('Calculating…');
    expect(formatWait(-5)).toBe('Calculating…');
    expect(formatWait(Number.NaN)).toBe('Calculating…');
    expect(formatWait(Number.POSITIVE_INFINITY)).toBe('Calculating…');
  });
});

describe('formatStartsIn', () => {
  const now = Date.parse('2026-11-27T12:00:00Z');
  it('counts_down_to_the_sale_start', () => {
    expect(formatStartsIn(now + 30_000, now)).toBe('in 30 seconds');
    expect(formatStartsIn(now + 1_000, now)).toBe('in 1 second');
    expect(formatStartsIn(now + 60_000, now)).toBe('in 1 minute');
    expect(formatStartsIn(now + 12 * 60_000 - 500, now)).toBe('in 12 minutes');
    expect(formatStartsIn(now + 2 * 3600_000 + 5 * 60_000, now)).toBe('in 2 hours 5 minutes');
    expect(formatStartsIn(now + 3600_000, now)).toBe('in 1 hour');
    expect(formatStartsIn(now - 1, now)).toBe('now');
  });
  it('knows_whether_the_sale_is_ahead', () => {
    expect(saleAhead('2026-11-27T12:10:00Z', now)).toBe(true);
    expect(saleAhead('2026-11-27T11:59:00Z', now)).toBe(false);
    expect(saleAhead(null, now)).toBe(false);
    expect(saleAhead('not a date', now)).toBe(false);
  });
});

describe('progress', () => {
  it('measures_from_where_the_visitor_started', () => {
    expect(progressOf(100, 100)).toBe(0);
    expect(progressOf(100, 75)).toBe(0.25);
    expect(progressOf(100, 0)).toBe(1);
    expect(progressOf(4, 1)).toBe(0.75);
  });
  it('stays_within_0_and_1', () => {
    expect(progressOf(10, 20)).toBe(0);
    expect(progressOf(10, -3)).toBe(1);
    expect(progressOf(null, 5)).toBe(0);
    expect(progressOf(0, 0)).toBe(1);
  });
  it('start_position_is_the_first_seen_or_a_larger_one', () => {
    expect(nextStartPosition(null, 40)).toBe(40);
    expect(nextStartPosition(40, 30)).toBe(40);
    // The pre-queue shuffle at the sale start can move a place back once.
    expect(nextStartPosition(40, 55)).toBe(55);
  });
});

describe('parse', () => {
  it('reads_the_three_answers', () => {
    expect(parseRoomAnswer({ eventId: 3, state: 'open' }, 3)).toEqual({ eventId: 3, state: 'open' });
    expect(
      parseRoomAnswer(
        { eventId: 3, state: 'waiting', ticket: 'v1.3.7.1.ab', position: 7, estimatedWaitSeconds: 14, startsAt: null, rate: 0.5 },
        3,
      ),
    ).toEqual({ eventId: 3, state: 'waiting', ticket: 'v1.3.7.1.ab', position: 7, estimatedWaitSeconds: 14, startsAt: null, rate: 0.5 });
    expect(parseRoomAnswer({ eventId: 3, state: 'admitted', ticket: 'v1.3.7.1.ab', admittedUntil: '2026-11-27T12:10:00Z' }, 3)).toEqual({
      eventId: 3,
      state: 'admitted',
      ticket: 'v1.3.7.1.ab',
      admittedUntil: '2026-11-27T12:10:00Z',
    });
  });
  it('refuses_answers_it_cannot_use', () => {
    expect(parseRoomAnswer(null, 1)).toBeNull();
    expect(parseRoomAnswer([], 1)).toBeNull();
    expect(parseRoomAnswer({ state: 'dancing' }, 1)).toBeNull();
    expect(parseRoomAnswer({ state: 'waiting', ticket: 'v1.x', position: -1 }, 1)).toBeNull();
    expect(parseRoomAnswer({ state: 'waiting', ticket: 'has space', position: 1 }, 1)).toBeNull();
    expect(parseRoomAnswer({ state: 'waiting', ticket: 'x'.repeat(513), position: 1 }, 1)).toBeNull();
    expect(parseRoomAnswer({ state: 'admitted' }, 1)).toBeNull();
  });
  it('reads_position_frames', () => {
    expect(parsePositionFrame({ position: 3, estimatedWaitSeconds: 6, state: 'waiting' })).toEqual({ position: 3, estimatedWaitSeconds: 6, state: 'waiting' });
    expect(parsePositionFrame({ position: 0, state: 'admitted' })).toEqual({ position: 0, estimatedWaitSeconds: null, state: 'admitted' });
    expect(parsePositionFrame({ state: 'waiting' })).toBeNull();
    expect(parsePositionFrame('3')).toBeNull();
  });
});

describe('announcements', () => {
  it('speak_at_most_every_20_s_while_only_the_number_moves', () => {
    const t0 = 1_000_000;
    const first = announcementFor(40, 80, false);
    expect(shouldAnnounce(null, first, 40, t0)).toBe(true);
    const last = { text: first, at: t0, position: 40 };
    expect(shouldAnnounce(last, announcementFor(39, 78, false), 39, t0 + 1_000)).toBe(false);
    expect(shouldAnnounce(last, announcementFor(30, 60, false), 30, t0 + ANNOUNCE_EVERY_MS)).toBe(true);
    expect(shouldAnnounce(last, first, 40, t0 + 60_000)).toBe(false);
  });
  it('the_front_of_the_line_and_halving_are_news_at_once', () => {
    const last = { text: announcementFor(40, 80, false), at: 0, position: 40 };
    expect(shouldAnnounce(last, announcementFor(20, 40, false), 20, 1_000)).toBe(true);
    expect(shouldAnnounce(last, announcementFor(0, 0, false), 0, 1_000)).toBe(true);
  });
  it('says_the_place_and_the_wait', () => {
    expect(announcementFor(12, 150, false)).toBe('Your place in line: 12. Estimated wait: about 3 minutes.');
    expect(announcementFor(5, 10, true)).toMatch(/drawn at random when the sale starts/);
  });
});

describe('TicketStore', () => {
  it('keeps_one_ticket_per_event', () => {
    const s = new TicketStore(new MemoryStorage());
    s.put(1, { ticket: 'v1.1.5.9.aa', startPosition: 5 });
    s.put(2, { ticket: 'v1.2.8.9.bb', startPosition: null });
    expect(s.get(1)).toEqual({ ticket: 'v1.1.5.9.aa', startPosition: 5 });
    expect(s.get(2)).toEqual({ ticket: 'v1.2.8.9.bb', startPosition: null });
    s.clear(1);
    expect(s.get(1)).toBeNull();
  });
  it('ignores_damaged_entries', () => {
    const m = new MemoryStorage();
    const s = new TicketStore(m);
    m.setItem('ticketing.room.1', '{not json');
    expect(s.get(1)).toBeNull();
    m.setItem('ticketing.room.1', JSON.stringify({ ticket: 'a b' }));
    expect(s.get(1)).toBeNull();
    m.setItem('ticketing.room.1', JSON.stringify({ ticket: 'ok', startPosition: -4 }));
    expect(s.get(1)).toEqual({ ticket: 'ok', startPosition: null });
  });
});
