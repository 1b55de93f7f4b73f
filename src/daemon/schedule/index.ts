/**
 * The schedule module: from a parsed schedule to the instants it fires at.
 * Pure: callers pass the instants, nothing here reads a clock.
 */
import type { CronFields, ScheduleSpec } from './spec.js';
import { CronSchedule } from './cron-schedule.js';
import { EverySchedule } from './every.js';
import type { Schedule } from './types.js';

export type { Schedule } from './types.js';
export { CronSchedule, isFixedTime } from './cron-schedule.js';
export { EverySchedule } from './every.js';
export { formatTick } from './format.js';
export { describeSchedule } from './describe.js';
export { isValidTimeZone } from './zone.js';

/**
 * The schedule of a job, or null for `@delay` and `@reboot`, whose ticks
 * depend on when runs end and when the daemon starts: the scheduler makes
 * those itself.
 */
export function scheduleFor(spec: ScheduleSpec, tz: string): Schedule | null {
  switch (spec.kind) {
    case 'cron':
      return cronScheduleFor(spec.fields, tz);
    case 'every':
      return new EverySchedule(spec.intervalMs);
    case 'delay':
    case 'reboot':
    case 'after':
      return null;
  }
}

/**
 * Schedules by fields object and zone. A CronSchedule holds nothing but what
 * it is built from, and the parser gives jobs with the same schedule text
 * the same fields object, so 100,000 jobs need as many schedules as they
 * have distinct schedules, each built once (bench/scale.ts).
 */
const cronSchedules = new WeakMap<CronFields, Map<string, CronSchedule>>();

function cronScheduleFor(fields: CronFields, tz: string): CronSchedule {
  let byZone = cronSchedules.get(fields);
  if (byZone === undefined) cronSchedules.set(fields, (byZone = new Map()));
  let schedule = byZone.get(tz);
  if (schedule === undefined) byZone.set(tz, (schedule = new CronSchedule(fields, tz)));
  return schedule;
}

/** Up to `n` ticks strictly after `fromMs`, fewer when the schedule runs out. */
export function nextTicks(schedule: Schedule, fromMs: number, n: number): number[] {
  const ticks: number[] = [];
  for (let after = fromMs; ticks.length < n; ) {
    const tick = schedule.next(after);
    if (tick === null) break;
    ticks.push(tick);
    after = tick;
  }
  return ticks;
}

/** True for a cron expression that will never fire again (`0 0 30 2 *`): `validate` warns about it. */
export function neverFires(spec: ScheduleSpec, tz: string, fromMs: number): boolean {
  return spec.kind === 'cron' && new CronSchedule(spec.fields, tz).next(fromMs) === null;
}
