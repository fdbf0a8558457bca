import { describe, expect, it } from 'vitest';
import { formatRemaining, remainingMs, urgency } from './countdown';

const T0 = Date.parse('2026-11-27T12:00:00.000Z');

describe('countdown', () => {
  it('remaining_time_until_an_rfc3339_expiry', () => {
    expect(remainingMs('2026-11-27T12:02:00.000Z', T0)).toBe(120_000);
    expect(remainingMs('2026-11-27T12:00:00.250Z', T0)).toBe(250);
  });
  it('accepts_epoch_milliseconds', () => {
    expect(remainingMs(T0 + 5000, T0)).toBe(5000);
  });
  it('never_negative_after_expiry', () => {
    expect(remainingMs('2026-11-27T11:59:00.000Z', T0)).toBe(0);
  });
  it('unparseable_expiry_counts_as_expired', () => {
    expect(remainingMs('soon', T0)).toBe(0);
  });
  it('formats_minutes_and_seconds', () => {
    expect(formatRemaining(120_000)).toBe('2:00');
    expect(formatRemaining(65_000)).toBe('1:05');
    expect(formatRemaining(9_000)).toBe('0:09');
    expect(formatRemaining(0)).toBe('0:00');
  });
  it('rounds_up_so_zero_means_expired', () => {
    expect(formatRemaining(1)).toBe('0:01');
    expect(formatRemaining(119_001)).toBe('2:00');
    expect(formatRemaining(-5)).toBe('0:00');
  });
  it('formats_hours_when_needed', () => {
    expect(formatRemaining(3_600_000 + 62_000)).toBe('1:01:02');
  });
  it('urgency_thresholds', () => {
    expect(urgency(120_000)).toBe('ok');
    expect(urgency(30_000)).toBe('soon');
    expect(urgency(1)).toBe('soon');
    expect(urgency(0)).toBe('expired');
  });
  it('counts_down_as_time_passes', () => {
    const exp = '2026-11-27T12:02:00.000Z';
    const shown = [0, 1000, 59_500, 119_999, 120_000].map((dt) => formatRemaining(remainingMs(exp, T0 + dt)));
    expect(shown).toEqual(['2:00', '1:59', '1:01', '0:01', '0:00']);
  });
});
