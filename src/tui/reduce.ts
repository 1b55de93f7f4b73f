import type { JobView } from '../daemon/control/api-types.js';
import type { RunRecord } from '../daemon/runlog/types.js';
import type { DaemonEvent, TuiState } from './model.js';

/** Finished runs kept in `recent`. */
export const RECENT_CAP = 500;

/**
 * Applies one event of the daemon's stream. Pure: returns a new state, or
 * the same object when nothing changed, so a renderer can skip by identity.
 */
export function reduce(state: TuiState, event: DaemonEvent): TuiState {
  switch (event.type) {
    case 'snapshot':
      return {
        connected: true,
        error: null,
        retryAtMs: null,
        status: event.status,
        jobs: sortJobs(event.jobs),
        running: [...event.running].sort(byStartAscending),
        recent: [...event.recent].sort(byStartDescending).slice(0, RECENT_CAP),
        nodes: event.nodes,
      };
    case 'run':
      return applyRun(state, event.run);
    case 'jobs':
      return { ...state, jobs: sortJobs(event.jobs) };
    case 'next':
      return updateJob(state, event.job, (j) => (j.nextTickMs === event.nextTickMs ? j : { ...j, nextTickMs: event.nextTickMs }));
    case 'nodes':
      return { ...state, nodes: event.nodes };
    case 'status':
      return { ...state, status: event.status };
  }
}

/** The subscription is gone; the last data stays on screen, marked stale by `connected`. */
export function disconnected(state: TuiState, error: string, retryAtMs: number | null): TuiState {
  return { ...state, connected: false, error, retryAtMs };
}

function applyRun(state: TuiState, run: RunRecord): TuiState {
  const inFlight = run.status === 'running';
  const running = state.running.filter((r) => r.id !== run.id);
  if (inFlight) running.push(run);
  const recent = inFlight ? state.recent : [run, ...state.recent.filter((r) => r.id !== run.id)].sort(byStartDescending).slice(0, RECENT_CAP);
  return updateJob({ ...state, running: inFlight ? running.sort(byStartAscending) : running, recent }, run.job, (job) => ({
    ...job,
    running: inFlight ? [...job.running.filter((r) => r.runId !== run.id), { runId: run.id, host: run.host }] : job.running.filter((r) => r.runId !== run.id),
    lastRun: !job.lastRun || job.lastRun.id === run.id || byStartDescending(run, job.lastRun) < 0 ? run : job.lastRun,
  }));
}

/** Replaces one job (found by binary search: jobs stay sorted, and there may be 100,000 of them). */
function updateJob(state: TuiState, name: string, change: (job: JobView) => JobView): TuiState {
  const i = indexOfJob(state.jobs, name);
  if (i < 0) return state;
  const updated = change(state.jobs[i]);
  if (updated === state.jobs[i]) return state;
  const jobs = state.jobs.slice();
  jobs[i] = updated;
  return { ...state, jobs };
}

function indexOfJob(jobs: JobView[], name: string): number {
  let lo = 0;
  let hi = jobs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compareNames(jobs[mid].name, name);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

const compareNames = (a: string, b: string): number => a.localeCompare(b);
const sortJobs = (jobs: JobView[]): JobView[] => [...jobs].sort((a, b) => compareNames(a.name, b.name));
/** Run ids are ULIDs: within one start millisecond they still sort by time. */
const byStartAscending = (a: RunRecord, b: RunRecord): number => a.startedMs - b.startedMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byStartDescending = (a: RunRecord, b: RunRecord): number => -byStartAscending(a, b);
