import { describe, expect, it } from 'vitest';
import { estimateSkew } from './clock';

describe('clock skew', () => {
  it('same_clock_within_date_resolution_is_no_skew', () => {
    const t = 1_700_000_000_000;
    // Server Date truncated to the second, response in 20 ms.
    expect(estimateSkew(Math.floor(t / 1000) * 1000, t - 10, t + 10)).toBe(0);
    expect(estimateSkew(t - 999, t, t + 5)).toBe(0);
  });
  it('a_server_clock_far_ahead_is_measured', () => {
    const t = 1_700_000_000_000;
    expect(estimateSkew(t + 60_000, t - 50, t + 50)).toBe(60_500);
  });
  it('a_server_clock_far_behind_is_measured', () => {
    const t = 1_700_000_000_000;
    expect(estimateSkew(t - 10_000, t, t)).toBe(-9_500);
  });
});
