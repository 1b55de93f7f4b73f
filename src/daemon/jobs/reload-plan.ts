import type { JobDefinition, ParseResult, ScheduleSpec } from '../crontab/types.js';

export interface ReloadPlan {
  /** The job table after the reload. */
  jobs: Map<string, JobDefinition>;
  added: string[];
  /** Definition changed; the job keeps its cursor and run history. */
  changed: string[];
  /** Of the changed ones, those whose ticks differ (schedule or zone) and need rescheduling. */
  rescheduled: string[];
  removed: string[];
  /** Gone from a file with errors: kept with their previous definition. */
  retained: string[];
}

/**
 * What a re-read crontab does to the running job table. A file with errors
 * removes nothing: a job whose line broke (or whose hashed name changed as
 * its line was mangled) keeps its last good definition until the file is clean.
 */
export function planReload(current: ReadonlyMap<string, JobDefinition>, parsed: ParseResult): ReloadPlan {
  const hasErrors = parsed.diagnostics.some((d) => d.severity === 'error');
  const plan: ReloadPlan = { jobs: new Map(), added: [], changed: [], rescheduled: [], removed: [], retained: [] };
  for (const job of parsed.jobs) {
    plan.jobs.set(job.name, job);
    const before = current.get(job.name);
    if (!before) plan.added.push(job.name);
    else if (!sameDefinition(before, job)) {
      plan.changed.push(job.name);
      if (!sameTicks(before, job)) plan.rescheduled.push(job.name);
    }
  }
  for (const [name, job] of current) {
    if (plan.jobs.has(name)) continue;
    if (hasErrors) {
      plan.jobs.set(name, job);
      plan.retained.push(name);
    } else {
      plan.removed.push(name);
    }
  }
  return plan;
}

/** What a parse changed, as crontab/crontab-parser.ts reports it: every other job is the same object. */
export interface JobsEdit {
  removed: readonly JobDefinition[];
  added: readonly JobDefinition[];
}

/**
 * planReload for a parse that differs from the previous one by `edit` only:
 * the same plan (its lists possibly in another order), in time proportional
 * to the edit instead of to the table. `table` is the table planned from the
 * previous parse, with `retainedBefore` its retained jobs; it is updated in
 * place and becomes the plan's table.
 */
export function planEdit(table: Map<string, JobDefinition>, retainedBefore: readonly string[], edit: JobsEdit, parsed: ParseResult): ReloadPlan {
  const hasErrors = parsed.diagnostics.some((d) => d.severity === 'error');
  const plan: ReloadPlan = { jobs: table, added: [], changed: [], rescheduled: [], removed: [], retained: [] };
  const back = new Set(edit.added.map((job) => job.name));
  // Names the edit took away, and those already missing from the file: gone unless the edit brought them back.
  const gone = [...edit.removed.map((job) => job.name), ...retainedBefore].filter((name) => !back.has(name));
  for (const job of edit.added) {
    const before = table.get(job.name);
    table.set(job.name, job);
    if (!before) plan.added.push(job.name);
    else if (!sameDefinition(before, job)) {
      plan.changed.push(job.name);
      if (!sameTicks(before, job)) plan.rescheduled.push(job.name);
    }
  }
  for (const name of gone) {
    if (hasErrors) {
      plan.retained.push(name);
    } else {
      plan.removed.push(name);
      table.delete(name);
    }
  }
  return plan;
}

/**
 * Compares one field of two definitions. One entry per field of
 * JobDefinition, so a field added there fails to compile here until it says
 * how it compares.
 */
type FieldComparers = { [K in keyof JobDefinition]-?: (a: JobDefinition[K], b: JobDefinition[K]) => boolean };

const same = <T>(a: T, b: T): boolean => a === b;

const FIELDS: FieldComparers = {
  name: same,
  scheduleText: same,
  schedule: sameSchedule,
  tz: same,
  command: same,
  stdin: same,
  shell: same,
  env: sameRecord,
  options: sameRecord,
  // Moving a line within the file is not a change.
  source: (a, b) => a.file === b.file,
};
const FIELD_NAMES = Object.keys(FIELDS) as Array<keyof JobDefinition>;

/**
 * Field by field, so comparing 100,000 unchanged jobs on a reload costs
 * little: the parser shares what an unchanged line gives (its schedule, its
 * directives' options), and such fields compare by identity. Stringifying
 * each job twice took most of a second (bench/scale.ts).
 */
export function sameDefinition(a: JobDefinition, b: JobDefinition): boolean {
  if (a === b) return true;
  for (const field of FIELD_NAMES) {
    if (!(FIELDS[field] as (x: unknown, y: unknown) => boolean)(a[field], b[field])) return false;
  }
  return true;
}

/** Same ticks: the schedule and the zone it is computed in. */
export function sameTicks(a: JobDefinition, b: JobDefinition): boolean {
  return a.tz === b.tz && sameSchedule(a.schedule, b.schedule);
}

/** Schedules are plain data; the same line read twice gives the same object. */
function sameSchedule(a: ScheduleSpec, b: ScheduleSpec): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Flat records of strings, numbers and nulls (env, options): same keys, same values. */
function sameRecord(a: object, b: object): boolean {
  if (a === b) return true;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const key of keys) if (x[key] !== y[key] || !(key in y)) return false;
  return true;
}
