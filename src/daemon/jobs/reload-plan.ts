import type { JobDefinition, ParseResult } from '../crontab/types.js';

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

/** Moving a line within the file is not a change. */
function sameDefinition(a: JobDefinition, b: JobDefinition): boolean {
  return JSON.stringify({ ...a, source: a.source.file }) === JSON.stringify({ ...b, source: b.source.file });
}

/** Same ticks: the schedule and the zone it is computed in. */
export function sameTicks(a: JobDefinition, b: JobDefinition): boolean {
  return a.tz === b.tz && JSON.stringify(a.schedule) === JSON.stringify(b.schedule);
}
