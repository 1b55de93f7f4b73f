import type { JobDefinition } from '../crontab/types.js';

/** Which host should claim a tick first. */
export interface Placement {
  /**
   * How long this host waits before claiming the tick of `unit` (the job, or
   * one shard of it: each shard is placed on its own); null when it may not
   * run the job.
   */
  delayFor(job: JobDefinition, tickMs: number, unit: string): number | null;
  /** The live hosts that may run the job; `self`: this host's id. */
  eligible(job: JobDefinition, self: string): string[];
  /** This host's labels and id match the job's hosts= selector (a backfill runs where it is asked, if allowed). */
  eligibleHere(job: JobDefinition): boolean;
}

/** One host claims every tick at once: there is nobody to defer to. */
export const SINGLE_HOST_PLACEMENT: Placement = { delayFor: () => 0, eligible: (_job, self) => [self], eligibleHere: () => true };
