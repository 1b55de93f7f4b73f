import { SECOND_MS } from './calendar.js';
import type { Schedule } from './types.js';

/** The last instant a Date can hold. */
const LAST_DATE_MS = 8.64e15;

/**
 * `@every 90s`: fixed rate, ticks at whole multiples of the interval since
 * the Unix epoch. Hosts need no shared start time to agree on the ticks, and
 * a daemon restart does not shift them.
 */
export class EverySchedule implements Schedule {
  constructor(readonly intervalMs: number) {
    // Ticks are whole seconds everywhere else in dcron; the parser only makes such intervals.
    if (!Number.isInteger(intervalMs / SECOND_MS) || intervalMs <= 0) {
      throw new RangeError(`@every interval must be a positive whole number of seconds, got ${intervalMs} ms`);
    }
  }

  /** Null past Date's last instant: an interval of 300,000 years (`@every 9007199254740s`) parses, but no clock reaches its tick. */
  next(afterMs: number): number | null {
    const tick = (Math.floor(afterMs / this.intervalMs) + 1) * this.intervalMs;
    return tick <= LAST_DATE_MS ? tick : null;
  }
}
