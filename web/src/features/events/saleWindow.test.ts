import { describe, expect, it } from 'vitest';
import { formatCountdown, saleNoticeText, saleWindow } from './saleWindow';

const NOW = Date.parse('2027-03-01T12:00:00.000Z');

describe('sale window', () => {
  it('no_times_means_open', () => {
    expect(saleWindow(null, null, NOW)).toEqual({ state: 'open' });
    expect(saleWindow(undefined, undefined, NOW)).toEqual({ state: 'open' });
    expect(saleNoticeText({ state: 'open' })).toBe('');
  });

  it('before_the_start_says_when_it_opens_with_a_countdown', () => {
    const w = saleWindow('2027-03-01T13:02:03.000Z', null, NOW);
    expect(w).toEqual({ state: 'before', opensAt: '2027-03-01T13:02:03.000Z', remainingMs: 3_723_000 });
    expect(saleNoticeText(w)).toBe('Sale opens at Mon 1 Mar 2027, 13:02 UTC, in 1:02:03.');
  });

  it('between_start_and_end_is_open', () => {
    expect(saleWindow('2027-03-01T11:00:00.000Z', '2027-03-01T13:00:00.000Z', NOW)).toEqual({ state: 'open' });
  });

  it('after_the_end_says_the_sale_ended', () => {
    const w = saleWindow('2027-02-01T11:00:00.000Z', '2027-03-01T12:00:00.000Z', NOW);
    expect(w.state).toBe('ended');
    expect(saleNoticeText(w)).toBe('Sale ended at Mon 1 Mar 2027, 12:00 UTC.');
  });

  it('unreadable_times_are_ignored', () => {
    expect(saleWindow('soon', 'later', NOW)).toEqual({ state: 'open' });
  });

  it('counts_days_past_a_day', () => {
    expect(formatCountdown(65_000)).toBe('1:05');
    expect(formatCountdown(2 * 86_400_000 + 3_600_000)).toBe('2 d 1:00:00');
  });
});
