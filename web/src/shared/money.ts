// Amounts travel as integers in the currency's minor unit (cents for EUR);
// they are only turned into a decimal here, for display.

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(currency: string, locale: string): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formatters.set(key, f);
  }
  return f;
}

/** Formats an integer amount of minor units, e.g. 12050 EUR -> "€120.50". */
export function formatMoney(minor: number, currency = 'EUR', locale = 'en-IE'): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`amount must be an integer of minor units, got ${minor}`);
  const f = formatter(currency, locale);
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  // Split instead of dividing so large amounts keep every digit exact.
  const scale = 10 ** digits;
  const sign = minor < 0 ? -1 : 1;
  const abs = Math.abs(minor);
  const major = Math.trunc(abs / scale);
  const frac = abs % scale;
  return f.format(sign * (major + frac / scale));
}

/** Sums minor-unit amounts; stays integer. */
export function sumMinor(amounts: Iterable<number>): number {
  let total = 0;
  for (const a of amounts) total += a;
  return total;
}
