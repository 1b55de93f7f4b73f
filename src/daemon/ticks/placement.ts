import type { JobDefinition } from '../crontab/types.js';

/** Which host should claim a tick first. */
export interface Placement {
  /** How long this host waits before claiming the tick; null when it may not run the job. */
  delayFor(job: JobDefinition, tickMs: number): number | null;
}

/** One host claims every tick at once: there is nobody to defer to. */
export const SINGLE_HOST_PLACEMENT: Placement = { delayFor: () => 0 };
