/**
 * Runs past ticks of a job on this host, once cluster-wide: `dcron run JOB
 * --tick ISO` and each tick of `dcron backfill`. A backfilled tick is
 * claimed with a create-once key (coordination/backfill-claims.ts), not the
 * job's cursor, which has long passed it; it runs with a fresh fence like a
 * manual run, on every shard, with trigger `backfill`. An operator's pause
 * does not stop it: a backfill is itself an explicit operator action.
 */
import type { BackfillClaims } from '../coordination/backfill-claims.js';
import type { Coordinator } from '../coordination/coordinator.js';
import type { JobDefinition } from '../crontab/types.js';
import type { ChainEnd, SubmitResult, TickRun } from '../executor/executor.js';
import { NotBackfillableError } from '../errors.js';
import { hasStarted, type RunRecord } from '../runlog/types.js';
import type { Schedule } from '../schedule/types.js';
import { checkPastTick, ticksInRange } from './backfill-ticks.js';
import { isDependent } from './dependencies.js';
import { shardsOf, unitOf } from './shards.js';

/** What became of one backfilled tick: `refused` names why it did not run (already backfilled, already ran). */
export interface BackfillTickResult {
  tickMs: number;
  outcome: 'ok' | 'failed' | 'started' | 'queued' | 'refused';
  runIds: string[];
  message: string | null;
}

export interface BackfillerOptions {
  claims: BackfillClaims;
  coordinator: Pick<Coordinator, 'nextFence' | 'mayAct'>;
  runner: {
    submit(run: TickRun): SubmitResult;
    on(event: 'chain-ended', listener: (end: ChainEnd) => void): unknown;
    off(event: 'chain-ended', listener: (end: ChainEnd) => void): unknown;
  };
  scheduleOf: (job: JobDefinition) => Schedule | null;
  /** Records of the tick this host can see: its own run log, and in a cluster the run summaries in etcd (capped per job). */
  recordsOfTick: (job: string, tickMs: number) => Promise<RunRecord[]>;
  /** This host may run the job (hosts= in a cluster). */
  eligibleHere: (job: JobDefinition) => boolean;
  now: () => number;
}

/** Runs of a tick that count as "it ran": a manual run only shares its instant by chance. */
const RAN_TRIGGERS: ReadonlySet<RunRecord['trigger']> = new Set(['schedule', 'catchup', 'retry', 'failover', 'dependency', 'backfill']);

export class Backfiller {
  constructor(private readonly opts: BackfillerOptions) {}

  /** The ticks a backfill of [fromMs, toMs] would run; checks the job and the range before anything runs. */
  plan(job: JobDefinition, fromMs: number, toMs: number, parallel: number): number[] {
    const schedule = this.check(job);
    if (!Number.isInteger(parallel) || parallel < 1) throw new NotBackfillableError(`--parallel must be a whole number of 1 or more, got ${parallel}`);
    // Side by side, a second tick of the same job would be skipped, queued or would kill the first (overlap=replace).
    if (parallel > 1 && job.options.overlap !== 'allow') throw new NotBackfillableError(`${job.name} has overlap=${job.options.overlap}: its ticks cannot run side by side; use --parallel 1, or set overlap=allow`);
    const now = this.opts.now();
    if (fromMs > now) throw new NotBackfillableError(`--from ${new Date(fromMs).toISOString()} is in the future: there is nothing to backfill yet`);
    return ticksInRange(schedule, fromMs, Math.min(toMs, now));
  }

  /**
   * Claims and runs one past tick here. `wait`: resolve when every shard's
   * run chain ended (ok/failed); else as soon as they are submitted.
   */
  async runTick(job: JobDefinition, tickMs: number, wait: boolean): Promise<BackfillTickResult> {
    const schedule = this.check(job);
    checkPastTick(job.name, schedule, tickMs, this.opts.now());
    const refused = (message: string): BackfillTickResult => ({ tickMs, outcome: 'refused', runIds: [], message });
    const seen = await this.opts.recordsOfTick(job.name, tickMs);
    if (seen.some((r) => r.trigger === 'backfill')) return refused('already backfilled');
    const ran = seen.find((r) => RAN_TRIGGERS.has(r.trigger) && hasStarted(r));
    if (ran) return refused(`already ran on schedule (run ${ran.id}, ${ran.status}, on ${ran.host})`);
    if (!this.opts.coordinator.mayAct()) throw new NotBackfillableError('this node cannot prove its etcd lease now: it runs nothing until it can');

    // The units claimed and submitted here, and the chain ends heard of them.
    const pending = new Set<string>();
    const ends = new Map<string, ChainEnd>();
    let settle: () => void = () => {};
    const allEnded = new Promise<void>((resolve) => (settle = resolve));
    // A shard that ends before the next one is claimed must not end the wait: only once all are submitted.
    let submitting = true;
    const onEnd = (end: ChainEnd) => {
      if (end.job !== job.name || end.tickMs !== tickMs || end.trigger !== 'backfill' || !pending.has(end.unit)) return;
      ends.set(end.unit, end);
      if (!submitting && ends.size === pending.size) settle();
    };
    // Listening before the first submit: a chain that fails at once ends before submit returns to us.
    this.opts.runner.on('chain-ended', onEnd);
    try {
      const runIds: string[] = [];
      let queued = false;
      const skipped: string[] = [];
      for (const shard of shardsOf(job)) {
        const unit = unitOf(job.name, shard);
        if (!(await this.opts.claims.claim(unit, tickMs))) continue;
        pending.add(unit);
        const fence = await this.opts.coordinator.nextFence(unit);
        const submitted = this.opts.runner.submit({ job, tickMs, trigger: 'backfill', fence, busyFence: null, shard });
        if (submitted.kind === 'started') runIds.push(submitted.runId);
        else if (submitted.kind === 'queued') queued = true;
        else {
          // Not run (overlap=skip, or shutting down): the claim goes back, so a later backfill can run the tick.
          pending.delete(unit);
          skipped.push(submitted.record.message ?? 'skipped');
          await this.opts.claims.release(unit, tickMs);
        }
      }
      submitting = false;
      if (pending.size === 0) return refused(skipped.length > 0 ? skipped[0] : 'already backfilled');
      if (!wait) return { tickMs, outcome: queued ? 'queued' : 'started', runIds, message: null };
      if (ends.size < pending.size) await allEnded;
      const chains = [...ends.values()];
      const failed = chains.filter((c) => c.status !== 'ok');
      return { tickMs, outcome: failed.length === 0 ? 'ok' : 'failed', runIds: chains.map((c) => c.runId), message: failed.length === 0 ? null : `${failed.length} of ${chains.length} run(s) ended ${failed.map((c) => c.status).join(', ')}` };
    } finally {
      this.opts.runner.off('chain-ended', onEnd);
    }
  }

  private check(job: JobDefinition): Schedule {
    if (isDependent(job)) throw new NotBackfillableError(`${job.name} runs after other jobs (after=): its ticks are theirs; backfill its parents' ticks instead`);
    if (job.options.mode === 'all') throw new NotBackfillableError(`${job.name} has mode=all (one run per host per tick): a backfill runs each tick once, so it does not apply`);
    const schedule = this.opts.scheduleOf(job);
    if (!schedule) throw new NotBackfillableError(`${job.name} has no fixed ticks (@reboot, @delay): there is no past tick to backfill`);
    if (!this.opts.eligibleHere(job)) throw new NotBackfillableError(`${job.name} may not run on this host (hosts=${job.options.hosts ?? ''}): ask an eligible host's daemon`);
    return schedule;
  }
}
