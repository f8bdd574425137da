/**
 * Money in the browser: integer fen in, text out, and text in, integer fen out. No float arithmetic:
 * amounts are split into yuan and fen with BigInt, and only the grouping of the yuan digits is left to Intl.
 */

/** "¥1,234.56" (or "-¥1,234.56") from fen. `signed` adds "+" to positive amounts (history). */
export function formatFen(fen: number | bigint, locale: string, options: { signed?: boolean } = {}): string {
  const value = BigInt(fen);
  const negative = value < 0n;
  const absolute = negative ? -value : value;
  const yuan = new Intl.NumberFormat(locale, { useGrouping: true }).format(absolute / 100n);
  const cents = (absolute % 100n).toString().padStart(2, '0');
  const sign = negative ? '-' : options.signed && value > 0n ? '+' : '';
  return `${sign}¥${yuan}.${cents}`;
}

/** The largest amount the inputs accept: 9,999,999.99 yuan (the server caps lower per limits). */
const YUAN_DIGITS_MAX = 7;

/** "100", "100.5", "100.50" → fen; anything else (negative, 3 decimals, letters, 0) → null. */
export function parseYuan(text: string): bigint | null {
  const trimmed = text.trim().replace(/,/g, '');
  const match = new RegExp(`^(\\d{1,${YUAN_DIGITS_MAX}})(?:\\.(\\d{0,2}))?$`).exec(trimmed);
  if (!match) return null;
  const yuan = BigInt(match[1] ?? '0');
  const cents = BigInt((match[2] ?? '').padEnd(2, '0'));
  const fen = yuan * 100n + cents;
  return fen > 0n ? fen : null;
}

/** JSON carries fen as a number; below 2^53 it is exact. Refuses anything that would not be. */
export function fenToJson(fen: bigint): number {
  if (fen > BigInt(Number.MAX_SAFE_INTEGER) || fen < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError('amount out of range');
  }
  return Number(fen);
}

/** Fen as plain yuan text for an input ("12345" → "123.45"), without grouping or symbol. */
export function fenToYuanText(fen: number | bigint): string {
  const value = BigInt(fen);
  const absolute = value < 0n ? -value : value;
  return `${value < 0n ? '-' : ''}${absolute / 100n}.${(absolute % 100n).toString().padStart(2, '0')}`;
}
