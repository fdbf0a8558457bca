import { describe, expect, it } from 'vitest';
import { formatMoney, sumMinor } from './money';

describe('money', () => {
  it('formats_cents_as_euros', () => {
    expect(formatMoney(12000)).toBe('€120.00');
    expect(formatMoney(4550)).toBe('€45.50');
    expect(formatMoney(5)).toBe('€0.05');
    expect(formatMoney(0)).toBe('€0.00');
  });
  it('groups_thousands', () => {
    expect(formatMoney(123456789)).toBe('€1,234,567.89');
  });
  it('keeps_large_amounts_exact', () => {
    expect(formatMoney(900719925474099)).toBe('€9,007,199,254,740.99');
  });
  it('formats_negative_amounts', () => {
    expect(formatMoney(-250)).toBe('-€2.50');
  });
  it('uses_the_currency_minor_unit', () => {
    expect(formatMoney(1500, 'JPY')).toBe('JP¥1,500');
    expect(formatMoney(1999, 'USD', 'en-US')).toBe('$19.99');
  });
  it('rejects_fractional_minor_units', () => {
    expect(() => formatMoney(10.5)).toThrow(RangeError);
  });
  it('sums_integers', () => {
    expect(sumMinor([12000, 4550, 1])).toBe(16551);
    expect(sumMinor([])).toBe(0);
  });
});
