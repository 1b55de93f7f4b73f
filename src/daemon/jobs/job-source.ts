import type { Diagnostic, JobDefinition } from '../crontab/types.js';

/** A new job table and how it differs from the previous one. */
export interface JobChanges {
  jobs: ReadonlyMap<string, JobDefinition>;
  added: string[];
  /** Definition changed in a way that changes its ticks (schedule or zone). */
  rescheduled: string[];
  removed: string[];
  /**
   * When set, the only names whose entry in `jobs` is a new object (added or
   * replaced); every other entry is the object applied before. Lets a reload
   * after a small edit of a large table update only those.
   */
  replaced?: string[];
}

export interface LoadState {
  atMs: number;
  file: string | null;
  diagnostics: Diagnostic[];
  /** Jobs kept with their previous definition because the file had errors. */
  retained: string[];
  /** Set when the file could not be read at all; every job was kept. */
  readError: string | null;
}

export type ApplyJobs = (changes: JobChanges, phase: 'boot' | 'update') => Promise<void>;

/**
 * Where the daemon's job table comes from: the crontab file on one host, or
 * the cluster's shared list in etcd. The daemon schedules whatever it is given.
 */
export interface JobSource {
  /** Loads the first table (phase 'boot'), then keeps calling `apply` with updates. */
  start(apply: ApplyJobs): Promise<void>;
  /** Re-read the crontab now (SIGHUP, `dcron reload`). Never throws. */
  reload(reason: string): Promise<void>;
  /** The last read of this host's crontab, for `dcron status`. */
  lastLoad(): LoadState | null;
  close(): Promise<void>;
}
