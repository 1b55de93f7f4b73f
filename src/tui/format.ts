import type { JobView } from '../daemon/control/api-types.js';
import type { RunRecord, RunStatus } from '../daemon/runlog/types.js';
import { humanDuration, isDependentView, relative } from '../cli/format.js';

/** Ink colour names the TUI uses; Paint drops them under NO_COLOR. */
export type Tone = 'green' | 'red' | 'yellow' | 'cyan' | 'magenta' | 'gray';

export const statusTone: Record<RunStatus, Tone> = {
  running: 'cyan',
  ok: 'green',
  failed: 'red',
  timeout: 'red',
  killed: 'yellow',
  skipped: 'gray',
  missed: 'yellow',
  lost: 'magenta',
  paused: 'gray',
};

/** Run ids are 26-char ULIDs; a prefix this long is unique in practice and `dcron kill --run` accepts it. */
export const shortId = (id: string): string => id.slice(0, 10);

export const countdown = (nextTickMs: number | null, nowMs: number): string => (nextTickMs === null ? 'never' : relative(nextTickMs, nowMs));

/** A job's next tick; a dependent job has none of its own ("never" would say it does not run). */
export function nextOf(job: JobView, nowMs: number): string {
  if (job.paused) return job.paused.untilMs === null ? 'paused' : `paused ${relative(job.paused.untilMs, nowMs)}`;
  return isDependentView(job) ? '-' : countdown(job.nextTickMs, nowMs);
}

/** How long a run took, or has taken so far. */
export const runDuration = (run: RunRecord, nowMs: number): string => humanDuration((run.endedMs ?? nowMs) - run.startedMs);

export function lastResult(job: JobView, nowMs: number): { text: string; tone: Tone | undefined } {
  const run = job.lastRun;
  if (!run) return { text: 'never ran', tone: 'gray' };
  return { text: `${run.status} ${relative(run.endedMs ?? run.startedMs, nowMs)}`, tone: statusTone[run.status] };
}

/** Where a job runs now: the hosts of its live runs. */
export const whereRunning = (job: JobView): string => [...new Set(job.running.map((r) => r.host))].join(',');

export const matchesFilter = (name: string, filter: string): boolean => filter === '' || name.toLowerCase().includes(filter.toLowerCase());

/**
 * Job output is arbitrary bytes: escape sequences would move the cursor or
 * recolour the screen (and defeat NO_COLOR), so they are dropped, tabs become
 * spaces, and other control characters are removed.
 */
export const printable = (line: string): string =>
  line
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]/g, '')
    .replace(/\t/g, '    ')
    .replace(/[\x00-\x1f\x7f]/g, '');

/** NO_COLOR (no-color.org): set and non-empty means no colour. chalk 5 does not read it, so the TUI does. */
export const colorWanted = (env: NodeJS.ProcessEnv): boolean => !env.NO_COLOR;
