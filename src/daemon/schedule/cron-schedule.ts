/**
 * Next tick of a cron expression in a time zone, with Debian cron(8)'s DST
 * rules (see docs/SCHEDULING.md for the rules and worked examples).
 *
 * Two layers: `WallClockMatcher` finds the next matching local date-time on
 * a calendar without time zones, stepping field by field; `CronSchedule`
 * walks the zone's intervals of constant UTC offset and maps those wall
 * times to instants, which is where skipped and repeated hours are decided.
 */
import type { CronField, CronFields } from './spec.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, civilFromDays, daysFromCivil, daysInMonth, weekdayOfDays } from './calendar.js';
import type { Schedule } from './types.js';
import { assertTimeZone, intervalAt, type OffsetInterval } from './zone.js';

/**
 * The Gregorian calendar repeats every 400 years, so a wall time that does
 * not match within 401 years never will (`0 0 30 2 *`), and a rare one that
 * does (Feb 29 falling on a Monday, across the skipped leap year 2100) is
 * still found.
 */
const HORIZON_YEARS = 401;
const HORIZON_MS = HORIZON_YEARS * 366 * DAY_MS;

/**
 * Debian cron(8) applies its DST rules only to clock changes under three
 * hours; bigger ones (Samoa skipping 2011-12-30) are corrections, after
 * which every job simply follows the new wall clock.
 */
const DST_SHIFT_LIMIT_MS = 3 * HOUR_MS;

/**
 * Debian cron(8): a job whose minute and hour (and second, when written) do
 * not start with `*` runs at fixed times, so DST must not make it skip or
 * repeat; other jobs follow the wall clock.
 */
export function isFixedTime(fields: CronFields): boolean {
  const wildcard = (field: CronField) => field.text.startsWith('*');
  return !wildcard(fields.minute) && !wildcard(fields.hour) && !(fields.hasSeconds && wildcard(fields.second));
}

/**
 * `table[v]` is the smallest allowed value >= v, or -1 when none is left in
 * the field; one slot past `max` holds -1 so a carried value needs no check.
 */
function nextValueTable(values: readonly number[], max: number): Int8Array {
  const table = new Int8Array(max + 2).fill(-1);
  const allowed = new Set(values);
  for (let v = max; v >= 0; v--) table[v] = allowed.has(v) ? v : table[v + 1];
  return table;
}

/** Finds the next local date-time a cron expression matches, on a calendar without DST. */
class WallClockMatcher {
  private readonly seconds: Int8Array;
  private readonly minutes: Int8Array;
  private readonly hours: Int8Array;
  private readonly months: Int8Array;
  private readonly domValues: Uint8Array;
  private readonly dowValues: Uint8Array;
  private readonly dowLast: Uint8Array;
  /** Per weekday, bit k set when `weekday#k` is in the expression. */
  private readonly dowNth: Uint8Array;
  private readonly domLast: boolean;
  /** Vixie cron: a `*` in either day field makes the two day fields AND, else OR. */
  private readonly daysAnd: boolean;

  constructor(fields: CronFields) {
    this.seconds = nextValueTable(fields.second.values, 59);
    this.minutes = nextValueTable(fields.minute.values, 59);
    this.hours = nextValueTable(fields.hour.values, 23);
    this.months = nextValueTable(fields.month.values, 12);
    this.domValues = membership(fields.dom.values, 31);
    this.dowValues = membership(fields.dow.values, 6);
    this.dowLast = membership(fields.dow.lastOf, 6);
    this.dowNth = new Uint8Array(7);
    for (const [weekday, nth] of fields.dow.nth) this.dowNth[weekday] |= 1 << nth;
    this.domLast = fields.dom.last;
    this.daysAnd = fields.dom.star || fields.dow.star;
  }

  /** The first matching wall time >= `wallMs` (whole seconds), or null if none within the horizon. */
  next(wallMs: number): number | null {
    const days = Math.floor(wallMs / DAY_MS);
    let { year, month, day } = civilFromDays(days);
    const secondOfDay = Math.floor((wallMs - days * DAY_MS) / SECOND_MS);
    let hour = Math.floor(secondOfDay / 3600);
    let minute = Math.floor(secondOfDay / 60) % 60;
    let second = secondOfDay % 60;
    const lastYear = year + HORIZON_YEARS;
    // Each failed field carries into the next larger one and resets the smaller ones.
    while (year <= lastYear) {
      const m = this.months[month];
      if (m < 0) {
        year++;
        month = 1;
        day = 1;
        hour = minute = second = 0;
        continue;
      }
      if (m !== month) {
        month = m;
        day = 1;
        hour = minute = second = 0;
      }
      const d = this.nextDay(year, month, day);
      if (d < 0) {
        month++;
        day = 1;
        hour = minute = second = 0;
        continue;
      }
      if (d !== day) {
        day = d;
        hour = minute = second = 0;
      }
      const h = this.hours[hour];
      if (h < 0) {
        day++;
        hour = minute = second = 0;
        continue;
      }
      if (h !== hour) {
        hour = h;
        minute = second = 0;
      }
      const mi = this.minutes[minute];
      if (mi < 0) {
        hour++;
        minute = second = 0;
        continue;
      }
      if (mi !== minute) {
        minute = mi;
        second = 0;
      }
      const s = this.seconds[second];
      if (s < 0) {
        minute++;
        second = 0;
        continue;
      }
      return daysFromCivil(year, month, day) * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS + s * SECOND_MS;
    }
    return null;
  }

  /** First matching day >= `from` in the month, or -1. */
  private nextDay(year: number, month: number, from: number): number {
    const length = daysInMonth(year, month);
    const firstWeekday = weekdayOfDays(daysFromCivil(year, month, 1));
    for (let day = from; day <= length; day++) {
      if (this.dayMatches(day, length, (firstWeekday + day - 1) % 7)) return day;
    }
    return -1;
  }

  private dayMatches(day: number, monthLength: number, weekday: number): boolean {
    const dom = this.domValues[day] === 1 || (this.domLast && day === monthLength);
    const dow =
      this.dowValues[weekday] === 1 ||
      (this.dowLast[weekday] === 1 && day + 7 > monthLength) ||
      (this.dowNth[weekday] & (1 << Math.ceil(day / 7))) !== 0;
    return this.daysAnd ? dom && dow : dom || dow;
  }
}

function membership(values: readonly number[], max: number): Uint8Array {
  const set = new Uint8Array(max + 1);
  for (const v of values) set[v] = 1;
  return set;
}

/**
 * Matchers by everything they are built from. A matcher is immutable and its
 * seven lookup tables cost far more memory than the numbers they hold, so
 * jobs with the same expression share one: with 100,000 jobs, building one
 * per job was a large part of the daemon's resident memory (bench/scale.ts).
 * Cleared when it grows past MATCHER_CACHE_MAX, so it cannot grow without bound.
 */
const matcherCache = new Map<string, WallClockMatcher>();
const MATCHER_CACHE_MAX = 20_000;

/**
 * Each field's part of the key, by field object. The parser shares one
 * frozen object per field text (crontab/fields.ts), so with 100,000 jobs
 * this joins a few hundred value lists instead of 600,000: building the
 * whole key from the values each time was the largest single cost of
 * scheduling them at start-up (bench/scale.ts).
 */
const fieldKeys = new WeakMap<CronField, string>();

function fieldKey(field: CronField | CronFields['dow']): string {
  let key = fieldKeys.get(field);
  if (key === undefined) {
    key = field.values.join(',');
    if ('nth' in field) key += `;${field.lastOf.join(',')};${field.nth.flat().join(',')}`;
    fieldKeys.set(field, key);
  }
  return key;
}

function matcherFor(fields: CronFields): WallClockMatcher {
  const { second, minute, hour, dom, month, dow } = fields;
  const key = `${fieldKey(second)}|${fieldKey(minute)}|${fieldKey(hour)}|${fieldKey(dom)}|${fieldKey(month)}|${fieldKey(dow)}|${dom.last}|${dom.star || dow.star}`;
  let matcher = matcherCache.get(key);
  if (matcher === undefined) {
    matcher = new WallClockMatcher(fields);
    if (matcherCache.size >= MATCHER_CACHE_MAX) matcherCache.clear();
    matcherCache.set(key, matcher);
  }
  return matcher;
}

export class CronSchedule implements Schedule {
  private readonly matcher: WallClockMatcher;
  private readonly fixedTime: boolean;
  /**
   * The last answer, by the second it was asked from. Jobs with the same
   * schedule share this object (index.ts), and at start-up they are all
   * scheduled from about the same second.
   */
  private lastFrom = NaN;
  private lastNext: number | null = null;

  constructor(fields: CronFields, readonly tz: string) {
    this.matcher = matcherFor(fields);
    this.fixedTime = isFixedTime(fields);
    assertTimeZone(tz); // fail here, not at the first tick
  }

  next(afterMs: number): number | null {
    const from = Math.floor(afterMs / SECOND_MS) * SECOND_MS + SECOND_MS;
    if (from === this.lastFrom) return this.lastNext;
    const next = this.nextFrom(from);
    this.lastFrom = from;
    this.lastNext = next;
    return next;
  }

  /**
   * Walk the zone's constant-offset intervals from `from`, a whole second.
   * Within one interval wall time and instants move together, so the first
   * matching wall time is the answer if it falls before the interval ends;
   * otherwise carry on from the interval's end.
   */
  private nextFrom(from: number): number | null {
    const giveUpAt = from + HORIZON_MS;
    while (from < giveUpAt) {
      const interval = intervalAt(this.tz, from);
      if (this.firesAtJump(interval, from)) return from;
      const wall = this.matcher.next(this.firstWallTime(interval, from));
      if (wall === null) return null;
      const instant = wall - interval.offsetMs;
      if (instant < interval.end) return instant;
      from = interval.end;
    }
    return null;
  }

  /** Fixed-time jobs run once at a spring-forward jump for all the wall times it skipped. */
  private firesAtJump(interval: OffsetInterval, from: number): boolean {
    if (from !== interval.start || !this.keepsFixedTimes(interval.offsetMs - interval.previousOffsetMs)) return false;
    const skipped = this.matcher.next(from + interval.previousOffsetMs);
    return skipped !== null && skipped < from + interval.offsetMs;
  }

  /** Fixed-time jobs already ran at the first occurrence of wall times that a fall-back repeats. */
  private firstWallTime(interval: OffsetInterval, from: number): number {
    const wall = from + interval.offsetMs;
    if (!this.keepsFixedTimes(interval.previousOffsetMs - interval.offsetMs)) return wall;
    return Math.max(wall, interval.start + interval.previousOffsetMs);
  }

  /** Whether a clock change by `shiftMs` (positive) gets the fixed-time treatment for this job. */
  private keepsFixedTimes(shiftMs: number): boolean {
    return this.fixedTime && shiftMs > 0 && shiftMs < DST_SHIFT_LIMIT_MS;
  }
}
