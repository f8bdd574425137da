/** Business-date arithmetic: windows, cut-offs, T+1 due times, local formatting. Pure. */
import { describe, expect, it } from 'vitest';
import {
  addDays,
  businessDateOf,
  businessDateShiftMinutes,
  businessDateWindow,
  formatLocal,
  isBusinessDate,
  latestSettleableDate,
  localToUtcMs,
  settlementDueAt,
} from './settlement.dates.js';

const midnight = { timeZone: 'Asia/Shanghai', cutoff: '00:00' };
const eleven = { timeZone: 'Asia/Shanghai', cutoff: '23:00' };
const utc = (text: string) => Date.parse(text);

describe('business dates', () => {
  it('with a midnight cut-off, a date is its local calendar day', () => {
    expect(businessDateWindow(midnight, '2030-03-10')).toEqual({
      startMs: utc('2030-03-09T16:00:00Z'),
      endMs: utc('2030-03-10T16:00:00Z'),
    });
    expect(businessDateOf(midnight, utc('2030-03-10T15:59:59.999Z'))).toBe('2030-03-10');
    expect(businessDateOf(midnight, utc('2030-03-10T16:00:00Z'))).toBe('2030-03-11');
  });

  it('with a 23:00 cut-off, 23:00 onwards counts to the next date', () => {
    expect(businessDateWindow(eleven, '2030-03-10')).toEqual({
      startMs: utc('2030-03-09T15:00:00Z'),
      endMs: utc('2030-03-10T15:00:00Z'),
    });
    expect(businessDateOf(eleven, utc('2030-03-10T14:59:59Z'))).toBe('2030-03-10');
    expect(businessDateOf(eleven, utc('2030-03-10T15:00:00Z'))).toBe('2030-03-11');
    expect(businessDateShiftMinutes(eleven)).toBe(60);
    expect(businessDateShiftMinutes(midnight)).toBe(0);
  });

  it('windows of consecutive dates tile the time line', () => {
    for (const calendar of [midnight, eleven, { timeZone: 'Europe/Berlin', cutoff: '04:00' }]) {
      let date = '2030-03-25';
      for (let step = 0; step < 10; step += 1) {
        const next = addDays(date, 1);
        expect(businessDateWindow(calendar, next).startMs).toBe(businessDateWindow(calendar, date).endMs);
        const { startMs, endMs } = businessDateWindow(calendar, date);
        expect(businessDateOf(calendar, startMs)).toBe(date);
        expect(businessDateOf(calendar, endMs - 1)).toBe(date);
        date = next;
      }
    }
  });

  it('settles T+1: once the cut-off has passed (the next business date has begun), plus the grace', () => {
    expect(settlementDueAt(midnight, '2030-03-10', 60_000)).toBe(utc('2030-03-10T16:01:00Z'));
    expect(settlementDueAt(eleven, '2030-03-10', 0)).toBe(utc('2030-03-10T15:00:00Z'));
    expect(latestSettleableDate(midnight, utc('2030-03-10T16:00:30Z'), 60_000)).toBe('2030-03-09');
    expect(latestSettleableDate(midnight, utc('2030-03-10T16:01:00Z'), 60_000)).toBe('2030-03-10');
    expect(latestSettleableDate(eleven, utc('2030-03-10T14:59:59Z'), 0)).toBe('2030-03-09');
    expect(latestSettleableDate(eleven, utc('2030-03-10T15:30:00Z'), 0)).toBe('2030-03-10');
  });

  it('takes a cut-off to the second', () => {
    const calendar = { timeZone: 'Asia/Shanghai', cutoff: '15:52:30' };
    expect(businessDateWindow(calendar, '2030-03-10').endMs).toBe(utc('2030-03-10T07:52:30Z'));
    expect(businessDateOf(calendar, utc('2030-03-10T07:52:29.999Z'))).toBe('2030-03-10');
    expect(businessDateOf(calendar, utc('2030-03-10T07:52:30Z'))).toBe('2030-03-11');
    expect(latestSettleableDate(calendar, utc('2030-03-10T07:52:31Z'), 1_000)).toBe('2030-03-10');
  });

  it('formats local times with their offset and checks dates', () => {
    expect(formatLocal(utc('2030-03-10T15:50:00.123Z'), 'Asia/Shanghai')).toBe('2030-03-10T23:50:00.123+08:00');
    expect(localToUtcMs('2030-03-11', 0, 'Asia/Shanghai')).toBe(utc('2030-03-10T16:00:00Z'));
    expect(isBusinessDate('2030-02-29')).toBe(false);
    expect(isBusinessDate('2028-02-29')).toBe(true);
    expect(addDays('2030-12-31', 1)).toBe('2031-01-01');
  });
});
