/**
 * Which past ticks a backfill may run (pure: the schedule and the instants
 * are passed in). A backfill runs ticks of the job's own schedule only, so
 * its runs carry the DCRON_TICK_MS the job would have seen on time.
 */
import { BackfillRangeError, FutureTickError, NotATickError } from '../errors.js';
import type { Schedule } from '../schedule/types.js';

/** Most ticks one backfill runs: a typo in --from must not start a million runs. */
export const MAX_BACKFILL_TICKS = 10_000;

/** How far back the previous tick is looked for, when naming the nearest ticks of a wrong instant. */
const LOOK_BACK_LIMIT_MS = 10 * 366 * 86_400_000;

/** Every tick of `schedule` in [fromMs, toMs], oldest first; throws past `cap` ticks or on a reversed range. */
export function ticksInRange(schedule: Schedule, fromMs: number, toMs: number, cap = MAX_BACKFILL_TICKS): number[] {
  if (toMs < fromMs) throw new BackfillRangeError(`--to ${iso(toMs)} is before --from ${iso(fromMs)}`);
  const ticks: number[] = [];
  for (let t = schedule.next(fromMs - 1); t !== null && t <= toMs; t = schedule.next(t)) {
    if (ticks.length === cap) throw new BackfillRangeError(`${iso(fromMs)} to ${iso(toMs)} holds more than ${cap} ticks; backfill a shorter range at a time`);
    ticks.push(t);
  }
  return ticks;
}

/** Throws unless `tickMs` is a tick of the schedule that is not after `nowMs`. */
export function checkPastTick(job: string, schedule: Schedule, tickMs: number, nowMs: number): void {
  if (schedule.next(tickMs - 1) !== tickMs) {
    const { before, after } = nearestTicks(schedule, tickMs);
    throw new NotATickError(job, tickMs, before, after);
  }
  if (tickMs > nowMs) throw new FutureTickError(job, tickMs);
}

/**
 * The ticks either side of an instant. A Schedule only steps forward, so the
 * one before is found by looking back from a window that doubles until it
 * holds a tick, then stepping forward to the last one before the instant.
 */
export function nearestTicks(schedule: Schedule, atMs: number): { before: number | null; after: number | null } {
  const after = schedule.next(atMs);
  let before: number | null = null;
  for (let window = 1000; window <= LOOK_BACK_LIMIT_MS && before === null; window *= 2) {
    for (let t = schedule.next(atMs - window - 1); t !== null && t < atMs; t = schedule.next(t)) before = t;
  }
  return { before, after };
}

const iso = (ms: number): string => new Date(ms).toISOString();
