/**
 * UTC offsets of IANA zones, from Intl.DateTimeFormat alone (no tz database
 * of our own, so dcron follows the tzdata that ships with Node).
 *
 * A zone is seen as a sequence of intervals of constant offset. Formatting a
 * date costs several microseconds, so each (zone, UTC year) is scanned once
 * and cached: about 370 formats, then every lookup is a cache hit. With
 * 100,000 jobs in a handful of zones that is a few milliseconds per year.
 */
import { DAY_MS, SECOND_MS, daysFromCivil } from './calendar.js';

/**
 * The years whose offsets come from Intl. It has no year 0 (it prints 1 BC
 * as year 1, and west of Greenwich the first hours of UTC year 1 are still
 * 1 BC) and Date ends in September 275760; before and after, a zone keeps
 * the offset it has at the edge, as the tz database extends local mean time
 * backwards. Without the bounds, an instant outside made garbage offsets
 * (BC) or threw (`dcron next --from` near Date's ends, `@every` huge).
 */
const FIRST_YEAR = 2;
const LAST_YEAR = 275_759;
const FIRST_MS = startOfYear(FIRST_YEAR);
const END_MS = startOfYear(LAST_YEAR + 1);

/** Calendar arithmetic rather than Date.UTC, which reads years 0-99 as 1900-1999. */
function startOfYear(year: number): number {
  return daysFromCivil(year, 1, 1) * DAY_MS;
}

/** A stretch of time during which a zone's UTC offset does not change. */
export interface OffsetInterval {
  /** First instant of the stretch, Unix ms. */
  start: number;
  /** First instant after it. Stretches also end at UTC year boundaries, where the offset may stay the same. */
  end: number;
  /** Wall time minus UTC, in ms. */
  offsetMs: number;
  /** The offset just before `start`; larger than `offsetMs` when the clocks went back at `start`. */
  previousOffsetMs: number;
}

class Zone {
  private readonly formatter: Intl.DateTimeFormat;
  private readonly years = new Map<number, OffsetInterval[]>();
  /** Most lookups hit the interval of the previous one: every job's next tick is usually "now-ish". */
  private recent: OffsetInterval | null = null;
  /** The offsets before FIRST_YEAR and after LAST_YEAR, made on first use. */
  private before: OffsetInterval | null = null;
  private after: OffsetInterval | null = null;

  constructor(readonly name: string) {
    this.formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  intervalAt(ms: number): OffsetInterval {
    const recent = this.recent;
    if (recent !== null && recent.start <= ms && ms < recent.end) return recent;
    if (!(ms >= FIRST_MS)) return (this.before ??= this.edge(-Infinity, FIRST_MS, this.yearIntervals(FIRST_YEAR)[0].offsetMs));
    if (ms >= END_MS) return (this.after ??= this.edge(END_MS, Infinity, this.yearIntervals(LAST_YEAR).at(-1)!.offsetMs));
    const intervals = this.yearIntervals(new Date(ms).getUTCFullYear());
    let found = intervals[0];
    for (const interval of intervals) {
      if (interval.start <= ms) found = interval;
    }
    this.recent = found;
    return found;
  }

  private edge(start: number, end: number, offsetMs: number): OffsetInterval {
    return { start, end, offsetMs, previousOffsetMs: offsetMs };
  }

  private yearIntervals(year: number): OffsetInterval[] {
    let intervals = this.years.get(year);
    if (intervals === undefined) {
      intervals = this.scanYear(year);
      this.years.set(year, intervals);
    }
    return intervals;
  }

  /**
   * Sample the offset daily across the UTC year, then binary-search each
   * change to the second. Two changes within one day that cancel out are
   * missed; no zone has had such a day in decades.
   */
  private scanYear(year: number): OffsetInterval[] {
    const yearStart = startOfYear(year);
    const yearEnd = startOfYear(year + 1);
    const intervals: OffsetInterval[] = [];
    const offsetMs = this.offsetByFormatting(yearStart);
    let current: OffsetInterval = {
      start: yearStart,
      end: yearEnd,
      offsetMs,
      // The second before is in year 1, which Intl may show as 1 BC or AD alike.
      previousOffsetMs: year === FIRST_YEAR ? offsetMs : this.offsetByFormatting(yearStart - SECOND_MS),
    };
    let from = yearStart;
    while (from < yearEnd) {
      const to = Math.min(from + DAY_MS, yearEnd - SECOND_MS);
      while (this.offsetByFormatting(to) !== current.offsetMs) {
        const change = this.firstChangeAfter(Math.max(current.start, from), to, current.offsetMs);
        current.end = change;
        intervals.push(current);
        current = { start: change, end: yearEnd, offsetMs: this.offsetByFormatting(change), previousOffsetMs: current.offsetMs };
      }
      if (to === yearEnd - SECOND_MS) break;
      from = to;
    }
    intervals.push(current);
    return intervals;
  }

  /** First whole second in (low, high] whose offset differs from `offsetMs`, given that `high`'s does. */
  private firstChangeAfter(low: number, high: number, offsetMs: number): number {
    while (high - low > SECOND_MS) {
      const mid = low + Math.floor((high - low) / (2 * SECOND_MS)) * SECOND_MS;
      if (this.offsetByFormatting(mid) === offsetMs) low = mid;
      else high = mid;
    }
    return high;
  }

  private offsetByFormatting(ms: number): number {
    const wholeSecond = Math.floor(ms / SECOND_MS) * SECOND_MS;
    const p = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
    for (const part of this.formatter.formatToParts(wholeSecond)) {
      if (part.type in p) p[part.type as keyof typeof p] = Number(part.value);
    }
    const wall = daysFromCivil(p.year, p.month, p.day) * DAY_MS + ((p.hour * 60 + p.minute) * 60 + p.second) * SECOND_MS;
    return wall - wholeSecond;
  }
}

const zones = new Map<string, Zone>();

function zoneFor(name: string): Zone {
  let zone = zones.get(name);
  if (zone === undefined) {
    zone = new Zone(name);
    zones.set(name, zone);
  }
  return zone;
}

/** True when Node's Intl knows the zone (`Europe/Berlin`, `UTC`, ...). */
export function isValidTimeZone(name: string): boolean {
  try {
    zoneFor(name);
    return true;
  } catch {
    return false;
  }
}

/** Throws RangeError for a zone Node's Intl does not know. Cheap: no offsets are computed. */
export function assertTimeZone(name: string): void {
  zoneFor(name);
}

/** The constant-offset stretch of `zone` that contains `ms`. Throws RangeError for an unknown zone. */
export function intervalAt(zone: string, ms: number): OffsetInterval {
  return zoneFor(zone).intervalAt(ms);
}

/** Wall time minus UTC at `ms`, in ms (e.g. 7_200_000 for CEST). */
export function offsetAt(zone: string, ms: number): number {
  return zoneFor(zone).intervalAt(ms).offsetMs;
}
