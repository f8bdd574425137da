import { describe, expect, it } from 'vitest';
import { fenToYuanText, formatFen, parseYuan } from './money.js';

describe('formatFen', () => {
  it('formats integer fen as yuan with grouping, in both languages', () => {
    expect(formatFen(123_456, 'zh-CN')).toBe('¥1,234.56');
    expect(formatFen(123_456, 'en')).toBe('¥1,234.56');
    expect(formatFen(0, 'zh-CN')).toBe('¥0.00');
    expect(formatFen(5, 'en')).toBe('¥0.05');
  });

  it('signs negative amounts, and positive ones when asked', () => {
    expect(formatFen(-3_000, 'zh-CN')).toBe('-¥30.00');
    expect(formatFen(10_000, 'zh-CN', { signed: true })).toBe('+¥100.00');
    expect(formatFen(0, 'zh-CN', { signed: true })).toBe('¥0.00');
  });

  it('stays exact beyond what a float can hold in fen', () => {
    expect(formatFen(9_007_199_254_740_993n, 'en')).toBe('¥90,071,992,547,409.93');
  });
});

describe('parseYuan', () => {
  it('turns yuan text into fen without floats', () => {
    expect(parseYuan('100')).toBe(10_000n);
    expect(parseYuan('100.5')).toBe(10_050n);
    expect(parseYuan('0.10')).toBe(10n);
    expect(parseYuan(' 1,234.56 ')).toBe(123_456n);
    // 0.1 + 0.2 style inputs never go through a float
    expect(parseYuan('0.29')).toBe(29n);
  });

  it('refuses zero, negatives, three decimals and text', () => {
    for (const text of ['', '0', '0.00', '-1', '1.234', 'abc', '1e3', '.5', '12345678']) {
      expect(parseYuan(text), text).toBeNull();
    }
  });
});

describe('fenToYuanText', () => {
  it('writes fen as plain yuan for an input', () => {
    expect(fenToYuanText(5_000)).toBe('50.00');
    expect(fenToYuanText(7)).toBe('0.07');
  });
});
