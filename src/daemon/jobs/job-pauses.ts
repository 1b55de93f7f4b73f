import type { EventEmitter } from 'node:events';

/**
 * An operator's pause of one job (`dcron pause`): an overlay on the job's
 * definition, kept apart from the crontab so that a reload, a publish from
 * another host or the job's removal and return never undo it. Only
 * `dcron resume` (or the `until` instant passing) does.
 */
export interface PauseState {
  /** Ticks at or after this instant run again; null: paused until resumed. */
  untilMs: number | null;
  /** When it was paused (wall clock of the host that paused it). */
  atMs: number;
  /** The host whose control socket took the pause. */
  by: string;
}

export type JobPausesEvents = {
  /** The job's pause was set, changed or lifted (here or, in a cluster, on any host). */
  changed: [job: string, state: PauseState | null];
};

/**
 * Where pauses live: SQLite on one host (jobs/embedded-pauses.ts), etcd in a
 * cluster (coordination/etcd/etcd-pauses.ts, mirrored on every node). Reads
 * are from memory: the tick pipeline asks once per tick.
 */
export interface JobPauses extends EventEmitter<JobPausesEvents> {
  start(): Promise<void>;
  get(job: string): PauseState | undefined;
  all(): ReadonlyMap<string, PauseState>;
  pause(job: string, state: PauseState): Promise<void>;
  /** False when the job was not paused. */
  resume(job: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The pause covers this tick: the tick is recorded `paused`, not run. */
export function pausedAt(state: PauseState | undefined, tickMs: number): boolean {
  return state !== undefined && (state.untilMs === null || tickMs < state.untilMs);
}

/** A pause in effect now, for display: one whose `until` has passed is not shown. */
export function activePause(state: PauseState | undefined, nowMs: number): PauseState | null {
  return state !== undefined && pausedAt(state, nowMs) ? state : null;
}

/** Listed jobs under a pause now, sorted: a pause whose until has passed, or of a job no longer listed, is left out. */
export function pausedJobs(pauses: ReadonlyMap<string, PauseState>, listed: (job: string) => boolean, nowMs: number): string[] {
  const out: string[] = [];
  for (const [job, state] of pauses) if (listed(job) && activePause(state, nowMs)) out.push(job);
  return out.sort();
}

export function encodePause(state: PauseState): string {
  return JSON.stringify({ untilMs: state.untilMs, atMs: state.atMs, by: state.by });
}

/** Null for a value that is not a pause (hand-written, or from a newer version): treated as not paused, never thrown. */
export function decodePause(text: string): PauseState | null {
  try {
    const v = JSON.parse(text) as Partial<PauseState>;
    const untilOk = v.untilMs === null || (typeof v.untilMs === 'number' && Number.isFinite(v.untilMs));
    if (!untilOk || typeof v.atMs !== 'number' || typeof v.by !== 'string') return null;
    return { untilMs: v.untilMs as number | null, atMs: v.atMs, by: v.by };
  } catch {
    return null;
  }
}
