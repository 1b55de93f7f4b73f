import { EventEmitter } from 'node:events';
import { dirname } from 'node:path';
import type { JobDefinition, ShardRef } from '../crontab/types.js';
import { parseUnit, unitOf } from '../ticks/shards.js';
import { isDependent } from '../ticks/dependencies.js';
import type { Coordinator } from '../coordination/coordinator.js';
import type { RunEnd, RunLog } from '../runlog/run-log.js';
import { RunRecorder } from '../runlog/run-recorder.js';
import type { FinishStatus, OutputStream, RunRecord, RunStatus, Trigger } from '../runlog/types.js';
import { newRunId } from '../runlog/run-id.js';
import type { Logger } from '../log.js';
import type { JobGuard } from './job-guard.js';
import type { ProcessResult, RunningProcess } from './process-runner.js';
import { inlineSpawner, WorkerSpawner, type ProcessSpawner } from './process-spawner.js';
import { buildRunEnv } from './run-env.js';
import { jitterFor } from './jitter.js';
import { Alerter, type TickFailure } from '../alerts/alerter.js';
import { DAEMON_DEFAULTS } from '../config/daemon-config.js';

/** A claimed tick (or a manual run) handed to the executor. */
export interface TickRun {
  job: JobDefinition;
  tickMs: number;
  trigger: Trigger;
  fence: number;
  /** Fence of the cluster-wide busy mark this tick holds (overlap=skip), released when its chain ends. */
  busyFence: number | null;
  /** Not before this instant: a tick claimed ahead of time (claim lead) starts at the tick. */
  startAtMs?: number;
  /** The shard of a sharded job's tick; its overlap, fences and record are the shard's own. */
  shard?: ShardRef | null;
  /**
   * Called once when the run is over for good: its chain ended (retries
   * included), or it was refused or dropped from a queue without running.
   * What the tick holds until then (a concurrency group's permit) is given back here.
   */
  onSettled?: () => void;
  /** A retry moved here from another host (`retry-elsewhere=true`): the chain starts at this attempt. */
  firstAttempt?: number;
  /** Hosts that ran earlier attempts of the tick: a further move goes to none of them. */
  triedOn?: readonly string[];
}

/** Where a retry goes (`retry-elsewhere=true`): another host took it, or it runs here. */
export type RetryMove = { kind: 'moved'; to: string } | { kind: 'here' };

/** A tick's run chain is over: all its attempts. */
export interface ChainEnd {
  job: string;
  /** The job, or the shard of it, that ran (ticks/shards.ts): whose busy mark to release. */
  unit: string;
  tickMs: number;
  trigger: Trigger;
  shard: ShardRef | null;
  endedMs: number;
  status: RunStatus;
  busyFence: number | null;
  /** The last attempt's record id, and the environment it ran with (null if it never started). */
  runId: string;
  /** The chain's next attempt went to this host (`retry-elsewhere=true`): the tick is not over, it goes on there. */
  movedTo: string | null;
  env: Record<string, string> | null;
}

export type SubmitResult =
  | { kind: 'started'; runId: string }
  | { kind: 'queued' }
  | { kind: 'skipped'; record: RunRecord };

export interface OutputEvent {
  runId: string;
  job: string;
  seq: number;
  stream: OutputStream;
  tsMs: number;
  data: Buffer;
}

export interface ExecutorEvents {
  'run-started': [RunRecord];
  'run-finished': [RunRecord];
  output: [OutputEvent];
  /** All attempts of a tick are over; `@delay` jobs count their delay from here. */
  'chain-ended': [ChainEnd];
}

export interface ExecutorOptions {
  runLog: RunLog;
  /** Jobs whose failed runs alert once per tick, from the tick settler, rather than here (sharded jobs always do). */
  alertsPerTick?: (job: JobDefinition) => boolean;
  /** Where ticks it does not start (overlap=skip, shutting down) are recorded; default: one of its own. */
  recorder?: RunRecorder;
  /** Hands out the fresh fence of each retry. */
  coordinator: Pick<Coordinator, 'nextFence'>;
  host: string;
  log: Logger;
  killGraceMs?: number;
  baseEnv?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Ticks waiting behind a running one with overlap=queue, per job. */
  maxQueued?: number;
  /** Webhook called after every job's failed runs (`--alert-webhook`). */
  alertWebhook?: string | null;
  /** Absolute paths where sendmail is looked for after PATH (MAILTO). */
  sendmailPaths?: readonly string[];
  /** Kills jobs when the daemon dies or stalls past its lease (see job-guard-process.ts). */
  guard?: JobGuard;
  /**
   * Where jobs are spawned: in the spawn worker process (default), so fork/exec
   * never blocks the daemon's loop nor copies its memory map, or inline here, the only place where
   * an injected `now` can stamp the runs' times (see process-spawner.ts).
   */
  spawnIn?: 'worker' | 'inline';
  /**
   * Asked right before each process starts; false: this host may no longer
   * act on its claims (in a cluster, its lease is unproven). A run that waited
   * (claim lead, jitter, a retry's delay) through a stall can reach its start
   * before the lease watchdog's 'unproven' does, with a peer already running
   * the tick or the next. Default: always.
   */
  mayStart?: () => boolean;
  /**
   * `retry-elsewhere=true`: offers attempt `attempt` of the run to another
   * host, none of `triedOn`. Absent (one host): every retry runs here.
   */
  moveRetry?: (run: TickRun, attempt: number, triedOn: readonly string[]) => Promise<RetryMove>;
}

/** One tick's run with its retries; holds the job's overlap slot until done. */
interface Chain {
  run: TickRun;
  /** Id of the attempt running now; the first is chosen up front so callers can follow it. */
  runId: string;
  process: RunningProcess | null;
  cancelled: 'killed' | 'replaced' | 'shutdown' | 'lost' | null;
  /** Wakes a jitter or backoff wait early when the chain is cancelled. */
  wake: (() => void) | null;
  done: Promise<void>;
  /** Environment of the latest attempt, handed to the on-failure hook. */
  lastEnv: Record<string, string> | null;
  /** The next attempt went to another host (retry-elsewhere). */
  movedTo: string | null;
}

interface Slot {
  /** The job the slot's unit (the job, or one shard of it) belongs to. */
  job: string;
  chains: Set<Chain>;
  queue: TickRun[];
}

const FAILED: ReadonlySet<RunStatus> = new Set(['failed', 'timeout']);
/** Exponential backoff stops growing here (and stays inside what a Node timer can wait). */
const MAX_BACKOFF_MS = 24 * 3_600_000;

/**
 * Runs claimed ticks: overlap policy, jitter, retries with backoff, the run
 * log, and output streaming. It does not decide which ticks are due (the
 * scheduler does) nor who may run them (the coordinator does).
 */
export class Executor extends EventEmitter<ExecutorEvents> {
  private readonly slots = new Map<string, Slot>();
  private readonly killGraceMs: number;
  private readonly now: () => number;
  private readonly maxQueued: number;
  private accepting = true;
  private readonly alerter: Alerter;
  private readonly spawner: ProcessSpawner;
  private readonly recorder: RunRecorder;

  constructor(private readonly opts: ExecutorOptions) {
    super();
    this.recorder = opts.recorder ?? new RunRecorder({ runLog: opts.runLog, host: opts.host, log: opts.log, now: opts.now ?? Date.now });
    this.alerter = new Alerter({ runLog: opts.runLog, log: opts.log, webhook: opts.alertWebhook, env: opts.baseEnv ?? process.env, sendmailPaths: opts.sendmailPaths });
    this.killGraceMs = opts.killGraceMs ?? DAEMON_DEFAULTS.killGraceMs;
    this.now = opts.now ?? Date.now;
    this.maxQueued = opts.maxQueued ?? 100;
    this.spawner = opts.spawnIn === 'inline' ? inlineSpawner : new WorkerSpawner(opts.log, { workers: 2 });
  }

  /** Start a claimed tick under the job's overlap policy. */
  submit(run: TickRun): SubmitResult {
    const slot = this.slotOf(unitOf(run.job.name, run.shard));
    const skip = (why: string): SubmitResult => {
      run.onSettled?.();
      return { kind: 'skipped', record: this.recorder.skipped({ ...run, job: run.job.name }, why) };
    };
    if (!this.accepting) return skip('daemon is shutting down');
    if (slot.chains.size > 0) {
      switch (run.job.options.overlap) {
        case 'skip':
          return skip(`overlap=skip: run ${this.activeRunIds(slot).join(', ')} still running`);
        case 'queue':
          if (slot.queue.length >= this.maxQueued) return skip(`overlap=queue: ${this.maxQueued} ticks already queued`);
          slot.queue.push(run);
          return { kind: 'queued' };
        case 'replace': {
          // The new run starts once the old ones are gone, so the two never overlap.
          const replaced = [...slot.chains];
          for (const c of replaced) this.cancel(c, 'replaced');
          return { kind: 'started', runId: this.startChain(slot, run, replaced.map((c) => c.done)).runId };
        }
        case 'allow':
          break;
      }
    }
    const chain = this.startChain(slot, run, []);
    return { kind: 'started', runId: chain.runId };
  }

  /** Kill the job's running runs (or only `runId`), and drop its queued ticks. */
  kill(job: string, runId?: string): string[] {
    const killed: string[] = [];
    // A sharded job's slots are one per shard: a kill of the job reaches every shard.
    for (const slot of this.slotsOfJob(job)) {
      for (const chain of slot.chains) {
        if (runId !== undefined && chain.runId !== runId) continue;
        killed.push(chain.runId);
        this.cancel(chain, 'killed');
      }
      if (runId === undefined) dropQueued(slot);
    }
    return killed;
  }

  /**
   * This host can no longer prove it holds its lease, so another host may
   * take its ticks: runs of jobs with on-lost=kill are killed now, the others
   * are left to finish.
   */
  applyOnLost(): string[] {
    const killed: string[] = [];
    for (const slot of this.slots.values()) {
      dropQueued(slot);
      for (const chain of slot.chains) {
        if (chain.run.job.options.onLost !== 'kill') continue;
        killed.push(chain.runId);
        this.cancel(chain, 'lost');
      }
    }
    return killed;
  }

  /** How many runs are executing now, across all jobs. */
  runningCount(): number {
    let n = 0;
    for (const slot of this.slots.values()) n += slot.chains.size;
    return n;
  }

  /** Slots the runs here take of the host's `--slots` (ticks/host-capacity.ts): a retry's backoff keeps its slots. */
  slotsInUse(): number {
    let n = 0;
    for (const slot of this.slots.values()) for (const chain of slot.chains) n += chain.run.job.options.slots;
    return n;
  }

  /** Whether a run of the job, or of this shard of it (a unit: ticks/shards.ts), is executing here. */
  isRunning(unit: string): boolean {
    return (this.slots.get(unit)?.chains.size ?? 0) > 0;
  }

  /** Run ids currently executing, per job (every shard's under the job's name). */
  running(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const slot of this.slots.values()) {
      const ids = this.activeRunIds(slot);
      if (ids.length > 0) out.set(slot.job, [...(out.get(slot.job) ?? []), ...ids]);
    }
    return out;
  }

  /** Fires the job's on-failure hook and webhooks for a whole tick, once (ticks/tick-settler.ts). */
  alertTickFailed(job: JobDefinition, run: RunRecord, env: Record<string, string>, failed: TickFailure): void {
    this.alerter.chainFailed(job, run, env, failed);
  }

  /**
   * Stop taking ticks, let runs finish for up to `graceMs`, then apply each
   * job's on-lost policy: `kill` ends it, `finish` waits for it.
   */
  async drain(graceMs: number): Promise<void> {
    this.accepting = false;
    for (const slot of this.slots.values()) dropQueued(slot);
    const all = () => [...this.slots.values()].flatMap((s) => [...s.chains]);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(all().map((c) => c.done)), graceOver]);
    clearTimeout(timer);
    for (const chain of all()) if (chain.run.job.options.onLost === 'kill') this.cancel(chain, 'shutdown');
    await Promise.all(all().map((c) => c.done));
  }

  /** Ends the spawn worker; call after drain, since runs still in flight are lost with it. */
  close(): Promise<void> {
    return this.spawner.close();
  }

  private slotOf(unit: string): Slot {
    let slot = this.slots.get(unit);
    if (!slot) this.slots.set(unit, (slot = { job: parseUnit(unit).job, chains: new Set(), queue: [] }));
    return slot;
  }

  private *slotsOfJob(job: string): Iterable<Slot> {
    const own = this.slots.get(job);
    if (own) yield own;
    for (const [unit, slot] of this.slots) if (unit.startsWith(`${job}/`)) yield slot;
  }

  private activeRunIds(slot: Slot): string[] {
    return [...slot.chains].map((c) => c.runId);
  }

  private cancel(chain: Chain, why: NonNullable<Chain['cancelled']>): void {
    chain.cancelled ??= why;
    chain.process?.kill(why);
    chain.wake?.();
  }

  private startChain(slot: Slot, run: TickRun, waitFor: Promise<void>[]): Chain {
    const chain: Chain = { run, runId: newRunId(this.now()), process: null, cancelled: null, wake: null, done: Promise.resolve(), lastEnv: null, movedTo: null };
    slot.chains.add(chain);
    chain.done = (async () => {
      await Promise.all(waitFor);
      const last = await this.runAttempts(chain).catch((err: unknown) => {
        this.opts.log.error('run failed inside dcron', { job: run.job.name, tick: run.tickMs, err });
        return 'failed' as RunStatus;
      });
      slot.chains.delete(chain);
      run.onSettled?.();
      const shard = run.shard ?? null;
      this.emit('chain-ended', { job: run.job.name, unit: unitOf(run.job.name, shard), tickMs: run.tickMs, trigger: run.trigger, shard, endedMs: this.now(), status: last, busyFence: run.busyFence, runId: chain.runId, env: chain.lastEnv, movedTo: chain.movedTo });
      // A sharded job's tick alerts once, when its first shard fails for good (the tick settler), not once per
      // shard; so does a mode=all tick in a cluster, at its first failed host.
      // A chain whose retry moved on is not over for the tick: the host that runs the last attempt alerts.
      if (FAILED.has(last) && chain.lastEnv && shard === null && chain.movedTo === null && !(this.opts.alertsPerTick?.(run.job) ?? false)) {
        const record = this.opts.runLog.getRun(chain.runId);
        if (record) this.alerter.chainFailed(run.job, record, chain.lastEnv);
      }
      const next = slot.queue.shift();
      if (next) this.startChain(slot, next, []);
    })();
    return chain;
  }

  /** Runs the first attempt and any retries; returns the last status. */
  private async runAttempts(chain: Chain): Promise<RunStatus> {
    const { job } = chain.run;
    // An operator's run (manual, backfill) starts when asked: jitter spreads ticks coming due at once.
    const jitter = chain.run.trigger === 'manual' || chain.run.trigger === 'backfill' ? 0 : jitterFor(job.name, chain.run.tickMs, job.options.jitterMs);
    const startAtMs = Math.max(chain.run.startAtMs ?? 0, this.now()) + jitter;
    // A claimed tick that waits (claim lead, jitter) is recorded first: a daemon that dies
    // meanwhile leaves a 'running' record, marked lost at its next start, not a claimed tick
    // without a trace. Its start time is the planned one.
    const waits = startAtMs > this.now();
    if (waits) {
      this.recordStart(chain, firstAttemptOf(chain.run), chain.run.fence, chain.run.trigger, startAtMs);
      await this.wait(chain, startAtMs - this.now());
    }
    if (!chain.cancelled && !this.mayStart()) chain.cancelled = 'lost';
    if (chain.cancelled) {
      if (!waits) this.recordStart(chain, firstAttemptOf(chain.run), chain.run.fence, chain.run.trigger, this.now());
      return this.finishUnspawned(chain);
    }
    let status: RunStatus = 'killed';
    const first = firstAttemptOf(chain.run);
    for (let attempt = first; !chain.cancelled; attempt++) {
      if (attempt > first && !this.mayStart()) {
        chain.cancelled = 'lost';
        break;
      }
      const fence = attempt === first ? chain.run.fence : await this.opts.coordinator.nextFence(unitOf(job.name, chain.run.shard));
      const trigger: Trigger = attempt === first ? chain.run.trigger : 'retry';
      status = await this.runOnce(chain, attempt, fence, trigger, attempt === first && waits);
      if (!FAILED.has(status) || attempt > job.options.retries || chain.cancelled) break;
      await this.wait(chain, Math.min(job.options.retryDelayMs * 2 ** (attempt - 1), MAX_BACKOFF_MS));
      // A backfill's runs stay where `dcron backfill` waits for them to end.
      if (chain.cancelled || !job.options.retryElsewhere || !this.opts.moveRetry || chain.run.trigger === 'backfill') continue;
      const move = await this.opts.moveRetry(chain.run, attempt + 1, [...(chain.run.triedOn ?? []), this.opts.host]).catch((err: unknown): RetryMove => {
        this.opts.log.warn('could not move the retry to another host; retrying here', { job: job.name, tick: chain.run.tickMs, err });
        return { kind: 'here' };
      });
      if (move.kind === 'moved') {
        this.opts.log.info('retry moved to another host (retry-elsewhere)', { job: job.name, tick: chain.run.tickMs, attempt: attempt + 1, to: move.to });
        chain.movedTo = move.to;
        break;
      }
    }
    return status;
  }

  private mayStart(): boolean {
    return this.opts.mayStart?.() ?? true;
  }

  private wait(chain: Chain, ms: number): Promise<void> {
    if (ms <= 0 || chain.cancelled) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        chain.wake = null;
        resolve();
      }
      chain.wake = done;
    });
  }

  /** Writes the attempt's 'running' record and announces it; the chain's runId becomes the attempt's. */
  private recordStart(chain: Chain, attempt: number, fence: number, trigger: Trigger, startedMs: number): string {
    const { job, tickMs } = chain.run;
    const runId = attempt === firstAttemptOf(chain.run) ? chain.runId : newRunId(this.now());
    const shard = chain.run.shard;
    this.opts.runLog.startRun({ id: runId, job: job.name, tickMs, trigger, attempt, fence, host: this.opts.host, startedMs, shard: shard?.index ?? null, shards: shard?.count ?? null });
    chain.runId = runId;
    this.emit('run-started', this.opts.runLog.getRun(runId)!);
    return runId;
  }

  /** A recorded run cancelled before its process started: it ends as killed, with why. */
  private finishUnspawned(chain: Chain): RunStatus {
    const why = chain.cancelled === 'lost' ? 'the lease was lost' : chain.cancelled === 'shutdown' ? 'the daemon shut down' : chain.cancelled === 'replaced' ? 'replaced by a newer tick' : 'killed';
    this.finishRecord(chain.run, chain.runId, { status: 'killed', endedMs: this.now(), exitCode: null, signal: null, message: `not started: ${why}`, truncated: false });
    return 'killed';
  }

  /** Ends a run's record, logs and announces it. */
  private finishRecord({ job, tickMs }: TickRun, runId: string, end: RunEnd): RunRecord {
    this.opts.runLog.finishRun(runId, end);
    const record = this.opts.runLog.getRun(runId)!;
    this.opts.log.info('run finished', { job: job.name, tick: tickMs, run: runId, status: end.status, exitCode: end.exitCode, signal: end.signal, message: end.message });
    this.emit('run-finished', record);
    return record;
  }

  private async runOnce(chain: Chain, attempt: number, fence: number, trigger: Trigger, recorded: boolean): Promise<RunStatus> {
    const { job, tickMs } = chain.run;
    const { runLog, host } = this.opts;
    const runId = recorded ? chain.runId : this.recordStart(chain, attempt, fence, trigger, this.now());

    const env = buildRunEnv(this.opts.baseEnv ?? process.env, { job, tickMs, runId, host, fence, attempt, trigger, shard: chain.run.shard ?? null, dependency: isDependent(job) });
    chain.lastEnv = env;
    let outputFailed = false;
    const proc = this.spawner.start({
      shell: job.shell,
      command: job.command,
      stdin: job.stdin,
      cwd: job.options.cwd ?? dirname(job.source.file),
      env,
      timeoutMs: job.options.timeoutMs,
      killGraceMs: this.killGraceMs,
      maxOutputBytes: job.options.maxOutputBytes,
      now: this.now,
      onOutput: (chunk) => {
        // A failing write (disk full) must not kill the daemon or the job:
        // live followers still get the chunk, and the failure is logged once.
        let seq = -1;
        try {
          seq = runLog.appendOutput(runId, chunk.stream, chunk.data, chunk.tsMs);
        } catch (err) {
          if (!outputFailed) this.opts.log.error('cannot store run output', { job: job.name, run: runId, err });
          outputFailed = true;
        }
        this.emit('output', { runId, job: job.name, seq, ...chunk });
      },
    });
    chain.process = proc;
    // A kill that arrived while the run was being set up must still land.
    if (chain.cancelled) proc.kill(chain.cancelled);
    // Kills meanwhile go through chain.process; the proxy delivers them after the start.
    const { pid } = await proc.started;
    if (pid) {
      this.opts.guard?.watch(pid, job.options.onLost === 'kill');
      runLog.setPid(runId, pid);
    }

    const result = await proc.done;
    if (pid) this.opts.guard?.unwatch(pid);
    chain.process = null;
    const status = statusOf(result);
    const record = this.finishRecord(chain.run, runId, {
      status,
      endedMs: result.endedMs,
      exitCode: result.exitCode,
      signal: result.signal,
      message: messageOf(result),
      truncated: result.truncated,
    });
    this.alerter.runFinished(job, record);
    return status;
  }
}

function statusOf(result: ProcessResult): FinishStatus {
  if (result.killedFor === 'timeout') return 'timeout';
  if (result.killedFor !== null) return 'killed';
  if (result.spawnError !== null || result.runnerError !== null) return 'failed';
  return result.exitCode === 0 ? 'ok' : 'failed';
}

function messageOf(result: ProcessResult): string | null {
  if (result.spawnError !== null) return `could not start: ${result.spawnError}`;
  if (result.runnerError !== null) return result.runnerError;
  if (result.killedFor === 'replaced') return 'killed: replaced by a newer tick (overlap=replace)';
  if (result.killedFor === 'shutdown') return 'killed: daemon shut down (on-lost=kill)';
  if (result.killedFor === 'lost') return 'killed: lease lost (on-lost=kill)';
  if (result.killedFor === 'killed') return 'killed on request';
  return null;
}

function firstAttemptOf(run: TickRun): number {
  return run.firstAttempt ?? 1;
}

/** Ticks waiting behind a run (overlap=queue) that will not run now: what they hold is given back. */
function dropQueued(slot: Slot): void {
  for (const run of slot.queue.splice(0)) run.onSettled?.();
}
