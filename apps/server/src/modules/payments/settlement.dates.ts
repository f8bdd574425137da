/**
 * Business dates for settlement and merchant reports, in a configurable IANA time zone (Asia/Shanghai by
 * default) with a daily cut-off `HH:MM` (or `HH:MM:SS`). Pure arithmetic on UTC milliseconds; no clock is
 * read here.
 *
 * The cut-off closes a date: with `23:00`, business date D covers [D−1 23:00, D 23:00) local time, so a
 * payment at 23:30 counts to D+1 (the Chinese T日 23:00 截止 convention). `00:00` means midnight at the end
 * of D: D covers [D 00:00, D+1 00:00). Settlement of D is due (T+1) once D has closed, that is once
 * business date D+1 has begun, plus a grace period for transactions in flight at the cut-off. In zones with daylight
 * saving, choose a cut-off outside the hour the clocks skip (02:00–03:00 in Europe).
 */
import { CUTOFF_PATTERN } from '../../config.js';

export interface BusinessCalendar {
  timeZone: string;
  /** `HH:MM` or `HH:MM:SS`, 00:00 to 23:59:59. */
  cutoff: string;
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(utcMs: number, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(utcMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour! % 24,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** Local time minus UTC at that instant, in milliseconds (+8 h for Asia/Shanghai). */
export function zoneOffsetMs(utcMs: number, timeZone: string): number {
  const wholeSecond = Math.floor(utcMs / 1000) * 1000;
  const local = localParts(wholeSecond, timeZone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return asUtc - wholeSecond;
}

export function isBusinessDate(value: string): boolean {
  const match = DATE_PATTERN.exec(value);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === value;
}

function parseDate(date: string): { year: number; month: number; day: number } {
  const match = DATE_PATTERN.exec(date);
  if (!match || !isBusinessDate(date)) throw new RangeError(`not a date: ${date}`);
  return { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
}

export function addDays(date: string, days: number): string {
  const { year, month, day } = parseDate(date);
  return new Date(Date.UTC(year, month - 1, day) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Whole days from `a` to `b` (positive when `b` is later). */
export function daysBetween(a: string, b: string): number {
  const from = parseDate(a);
  const to = parseDate(b);
  return Math.round((Date.UTC(to.year, to.month - 1, to.day) - Date.UTC(from.year, from.month - 1, from.day)) / DAY_MS);
}

/** The UTC instant of local wall time `date` + `minutes` (may be fractional) after midnight in `timeZone`. */
export function localToUtcMs(date: string, minutes: number, timeZone: string): number {
  const { year, month, day } = parseDate(date);
  const guess = Date.UTC(year, month - 1, day) + Math.round(minutes * 60_000);
  // Two rounds settle the offset, also next to a daylight-saving change.
  const first = guess - zoneOffsetMs(guess, timeZone);
  return guess - zoneOffsetMs(first, timeZone);
}

/** Minutes after local midnight (fractional with seconds). */
function cutoffMinutes(calendar: BusinessCalendar): number {
  const match = CUTOFF_PATTERN.exec(calendar.cutoff);
  if (!match) throw new RangeError(`not a cut-off: ${calendar.cutoff}`);
  return Number(match[1]) * 60 + Number(match[2]) + Number(match[3] ?? 0) / 60;
}

/** The instant business date `date` closes (exclusive end of its window). */
export function businessDateEnd(calendar: BusinessCalendar, date: string): number {
  const minutes = cutoffMinutes(calendar);
  return minutes === 0
    ? localToUtcMs(addDays(date, 1), 0, calendar.timeZone)
    : localToUtcMs(date, minutes, calendar.timeZone);
}

/** [start, end) of business date `date` in UTC milliseconds. */
export function businessDateWindow(calendar: BusinessCalendar, date: string): { startMs: number; endMs: number } {
  return { startMs: businessDateEnd(calendar, addDays(date, -1)), endMs: businessDateEnd(calendar, date) };
}

/** The local calendar date of an instant. */
export function localDate(utcMs: number, timeZone: string): string {
  const local = localParts(utcMs, timeZone);
  return `${local.year}-${pad(local.month)}-${pad(local.day)}`;
}

/** The business date an instant belongs to. */
export function businessDateOf(calendar: BusinessCalendar, utcMs: number): string {
  const minutes = cutoffMinutes(calendar);
  const local = localParts(utcMs, calendar.timeZone);
  const date = `${local.year}-${pad(local.month)}-${pad(local.day)}`;
  if (minutes === 0) return date;
  return local.hour * 60 + local.minute + local.second / 60 >= minutes ? addDays(date, 1) : date;
}

/** When settlement of `date` may run (T+1): once its cut-off has passed, plus `graceMs`. */
export function settlementDueAt(calendar: BusinessCalendar, date: string, graceMs: number): number {
  return businessDateEnd(calendar, date) + graceMs;
}

/** The latest business date whose settlement is due at `nowMs`. */
export function latestSettleableDate(calendar: BusinessCalendar, nowMs: number, graceMs: number): string {
  let date = addDays(businessDateOf(calendar, nowMs), -1);
  // At most a few steps: the due time is within a day and the grace (≤ 1 h) of the date's end.
  for (let step = 0; step < 3 && settlementDueAt(calendar, date, graceMs) > nowMs; step += 1) {
    date = addDays(date, -1);
  }
  return date;
}

/** An instant as local ISO 8601 with its offset, e.g. `2030-03-10T23:50:00.000+08:00`. */
export function formatLocal(utcMs: number, timeZone: string): string {
  const offset = zoneOffsetMs(utcMs, timeZone);
  const local = new Date(utcMs + offset).toISOString().slice(0, 23);
  const sign = offset < 0 ? '-' : '+';
  const minutes = Math.abs(offset) / 60_000;
  return `${local}${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/**
 * For SQL grouping by business date: the shift that moves an instant onto its business date's local
 * calendar day (`((t + shift) at time zone tz)::date`). Exact where the offset does not change within a day.
 */
export function businessDateShiftMinutes(calendar: BusinessCalendar): number {
  const minutes = cutoffMinutes(calendar);
  return minutes === 0 ? 0 : 1_440 - minutes;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
