import { activePause, pausedJobs } from '../jobs/job-pauses.js';
/**
 * Answers built from this host's own state (its job table, run log and
 * executor): the single-host control methods, and the parts the cluster
 * versions share with them.
 */
import { hasStarted, type RunRecord } from '../runlog/types.js';
import type { OutputEvent, SubmitResult } from '../executor/executor.js';
import type { JobDefinition } from '../crontab/types.js';
import { formatDiagnostic } from '../crontab/parse.js';
import { describeSchedule } from '../schedule/describe.js';
import { InvalidRequestError, NoShardRunError, UnknownJobError, UnknownRunError } from '../errors.js';
import { VERSION } from '../version.js';
import type { DaemonPort } from './daemon-port.js';
import type { StreamParamsOf } from './methods.js';
import type { JobView, LogEvent, RunStartView, StatusView } from './api-types.js';

type Mode = StatusView['mode'];

/** How many runs one `history` call returns: 20 unless asked, and never the whole log at once. */
export const historyLimit = (asked: number | undefined): number => Math.min(Math.max(1, asked ?? 20), 10_000);

export function toRunStartView(r: SubmitResult): RunStartView {
  if (r.kind === 'started') return { outcome: 'started', runId: r.runId, message: null };
  if (r.kind === 'queued') return { outcome: 'queued', runId: null, message: 'queued behind the running run (overlap=queue)' };
  return { outcome: 'skipped', runId: r.record.id, message: r.record.message };
}

export function jobOf(d: DaemonPort, name: string): JobDefinition {
  const job = d.jobs.get(name);
  if (!job) throw new UnknownJobError(name);
  return job;
}

export function statusOf(d: DaemonPort, mode: Mode): StatusView {
  const load = d.lastLoad;
  return {
    version: VERSION,
    pid: process.pid,
    node: d.nodeId,
    mode,
    dataDir: d.dataDir,
    crontab: d.crontabPath,
    startedMs: d.startedMs,
    nowMs: d.now(),
    jobs: d.jobs.size,
    running: countRunning(d),
    paused: pausedJobs(d.pauses.all(), (job) => d.jobs.has(job), d.now()),
    groups: d.groupUse(),
    lastLoad: load && {
      atMs: load.atMs,
      errors: load.diagnostics.filter((x) => x.severity === 'error').map(formatDiagnostic),
      warnings: load.diagnostics.filter((x) => x.severity === 'warning').map(formatDiagnostic),
      retained: load.retained,
      readError: load.readError,
    },
  };
}

export const countRunning = (d: DaemonPort): number => d.executor.runningCount();

export function listJobs(d: DaemonPort): JobView[] {
  const last = d.runLog.lastRunsByJob();
  const running = d.executor.running();
  const retained = new Set(d.lastLoad?.retained ?? []);
  const now = d.now();
  return [...d.jobs.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((job) => ({
      name: job.name,
      scheduleText: job.scheduleText,
      description: describeDependency(job) ?? describeSchedule(job.scheduleText, job.schedule, job.tz),
      tz: job.tz,
      command: job.command,
      nextTickMs: d.nextTick(job.name) ?? null,
      lastRun: last.get(job.name) ?? null,
      running: (running.get(job.name) ?? []).map((runId) => ({ runId, host: d.nodeId })),
      source: job.source,
      retained: retained.has(job.name),
      shards: job.options.shards,
      after: job.options.after,
      afterFailure: job.options.afterFailure,
      paused: activePause(d.pauses.get(job.name), now),
    }));
}

/**
 * Which jobs a dependent job follows, in words, or null for a scheduled
 * job. Its schedule text is ignored (it may be any schedule, or `@after`),
 * so showing it would tell the reader when the job does not run.
 */
export function describeDependency(job: Pick<JobDefinition, 'options'>): string | null {
  const { after, afterFailure } = job.options;
  if (after !== null) return `after ${after.join(', ')}`;
  if (afterFailure !== null) return `after failure of ${afterFailure.join(' or ')}`;
  return null;
}

/**
 * Checks a `logs` request's shard against the job: a whole number, and one
 * the job has, when this daemon knows the job (a removed job's old shard
 * runs can still be asked for).
 */
export function checkShardParam(d: DaemonPort, p: StreamParamsOf<'logs'>): void {
  if (p.shard === undefined) return;
  if (!Number.isInteger(p.shard) || p.shard < 0) throw new InvalidRequestError(`logs: shard must be a whole number from 0, got ${p.shard}`);
  if (p.runId !== undefined) throw new InvalidRequestError('logs: give a run id or a shard, not both');
  if (!p.job) throw new InvalidRequestError('logs: a shard needs a job');
  const shards = d.jobs.get(p.job)?.options.shards;
  if (shards !== undefined && p.shard >= shards) throw new NoShardRunError(p.job, p.shard, shards);
}

/** Skipped and missed ticks have no output: `logs` means the newest run that started. */

/** This host's newest started run of a job, or of one shard of it. */
export function newestStartedRun(d: DaemonPort, job: string, shard: number | undefined): RunRecord | null {
  return d.runLog.history({ job, shard, limit: 50 }).find(hasStarted) ?? null;
}

/**
 * Sends a run's stored output, then (with follow) its live output until it
 * ends. Reading the stored chunks and subscribing happen in one synchronous
 * step, so no chunk is missed or sent twice. Following a job rather than a
 * run moves on to each new run of the job as it starts.
 */
export async function streamLogs(d: DaemonPort, p: StreamParamsOf<'logs'>, send: (e: LogEvent) => void, closed: AbortSignal): Promise<void> {
  checkShardParam(d, p);
  let run = pickRun(d, p);
  const followJob = p.follow === true && p.runId === undefined;
  if (!run && !followJob) {
    if (p.shard !== undefined) throw new NoShardRunError(p.job!, p.shard, d.jobs.get(p.job!)?.options.shards ?? null);
    throw new InvalidRequestError(`${p.job} has not run yet (dcron logs ${p.job} -f waits for its next run)`);
  }
  const jobName = run?.job ?? p.job!;
  for (;;) {
    if (!run) {
      send({ type: 'waiting', job: jobName });
      run = await nextRunOf(d, jobName, p.shard, closed);
      if (!run) return;
    }
    const ended = await sendRun(d, run, p.follow === true, send, closed);
    if (!ended || !followJob) return;
    run = null;
  }
}

function pickRun(d: DaemonPort, p: StreamParamsOf<'logs'>): RunRecord | null {
  if (p.runId) {
    const run = d.runLog.getRun(p.runId);
    if (!run || (p.job && run.job !== p.job)) throw new UnknownRunError(p.runId);
    return run;
  }
  const name = p.job;
  if (!name) throw new InvalidRequestError('missing job');
  if (!d.jobs.has(name) && d.runLog.history({ job: name, limit: 1 }).length === 0) throw new UnknownJobError(name);
  return newestStartedRun(d, name, p.shard);
}

/** Sends one run; resolves true when it has ended, false if the client left first. */
function sendRun(d: DaemonPort, run: RunRecord, follow: boolean, send: (e: LogEvent) => void, closed: AbortSignal): Promise<boolean> {
  send({ type: 'run', run });
  for (const c of d.runLog.readOutput(run.id)) send({ type: 'output', runId: c.runId, seq: c.seq, stream: c.stream, tsMs: c.tsMs, data: c.data.toString('base64') });
  const current = d.runLog.getRun(run.id)!;
  if (!follow || current.status !== 'running') {
    send({ type: 'end', run: current });
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const onOutput = (o: OutputEvent) => {
      if (o.runId === run.id) send({ type: 'output', runId: o.runId, seq: o.seq, stream: o.stream, tsMs: o.tsMs, data: o.data.toString('base64') });
    };
    const onFinished = (r: RunRecord) => {
      if (r.id !== run.id) return;
      cleanup();
      send({ type: 'end', run: r });
      resolve(true);
    };
    const onClosed = () => {
      cleanup();
      resolve(false);
    };
    const cleanup = () => {
      d.executor.off('output', onOutput);
      d.executor.off('run-finished', onFinished);
      closed.removeEventListener('abort', onClosed);
    };
    d.executor.on('output', onOutput);
    d.executor.on('run-finished', onFinished);
    closed.addEventListener('abort', onClosed);
  });
}

/** The next run of the job to start here (of the one shard, if given). */
function nextRunOf(d: DaemonPort, job: string, shard: number | undefined, closed: AbortSignal): Promise<RunRecord | null> {
  return new Promise((resolve) => {
    const onStarted = (r: RunRecord) => {
      if (r.job !== job || (shard !== undefined && r.shard !== shard)) return;
      cleanup();
      resolve(r);
    };
    const onClosed = () => {
      cleanup();
      resolve(null);
    };
    const cleanup = () => {
      d.executor.off('run-started', onStarted);
      closed.removeEventListener('abort', onClosed);
    };
    d.executor.on('run-started', onStarted);
    closed.addEventListener('abort', onClosed);
  });
}
