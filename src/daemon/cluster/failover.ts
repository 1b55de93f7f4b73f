import type { PermitOutcome } from '../coordination/group-slots.js';
import type { JobDefinition } from '../crontab/types.js';
import { monotonicMs, type PrefixMirror, type MirrorBatch } from '../coordination/etcd/prefix-mirror.js';
import type { TickClaims } from '../coordination/etcd/tick-claims.js';
import type { Executor } from '../executor/executor.js';
import type { RunRecorder } from '../runlog/run-recorder.js';
import type { Logger } from '../log.js';
import type { RunSummary } from './run-reporter.js';
import type { SlotHold } from '../ticks/host-capacity.js';
import { unitOf, type ShardRef } from '../ticks/shards.js';

export interface FailoverDeps {
  nodeId: string;
  log: Logger;
  executor: Executor;
  recorder: RunRecorder;
  job: (name: string) => JobDefinition | undefined;
  /**
   * Runs in flight cluster-wide: the `running/` keys, each a run summary
   * (null if unreadable) under its host's lease. Started and stopped here.
   */
  running: PrefixMirror<RunSummary | null>;
  /** True when the run's summary was written: it finished, and its key went with it. */
  finished: (job: string, runId: string) => Promise<boolean>;
  /** This node's host selector admits the job. */
  eligible: (job: JobDefinition) => boolean;
  /** False while this node cannot prove its lease. */
  mayAct: () => boolean;
  /** Claims the rerun of a tick; null when another node did. */
  claimFailover: (job: string, tickMs: number) => Promise<{ fence: number } | null>;
  /**
   * A rerun starts only if its claim was answered within this long of the
   * run's key vanishing: what keeps an expiring failover marker from
   * letting a second node rerun the tick (see TickClaims.claimFailover).
   */
  windowMs: number;
  /** Takes the job's busy mark for a rerun (overlap=skip), as a tick claim does. */
  takeBusy: TickClaims['takeBusy'];
  /** The job's `slots=` of this host's `--slots` for the rerun, held until the executor has it (it counts them from then). */
  holdSlots: (job: JobDefinition) => SlotHold;
  /** A permit of the job's concurrency group for the rerun (the dead host's went with its lease). */
  groupPermit: (job: JobDefinition, unit: string, tickMs: number) => Promise<PermitOutcome>;
  /** The clock `running`'s batches are stamped with. */
  now?: () => number;
  /**
   * A run whose host died mid-run and that nobody reruns (failover=none, or
   * a rerun that died too): its shard ended, not ok (ticks/tick-settler.ts).
   * Every node that notices says so; the ledger counts it once.
   */
  lostElsewhere?: (run: RunSummary) => void;
  /** Whether lostElsewhere wants to hear of the job's runs: asking etcd about every run's end would cost a read per run. */
  countsLost?: (job: JobDefinition) => boolean;
}

/**
 * failover=rerun: a run's `running/` key lives under its host's lease. When
 * it disappears with no summary written, the host died mid-run (a finished
 * run writes its summary and deletes the key in one transaction), so one
 * surviving node, the one whose failover claim commits, runs the tick again
 * with DCRON_TRIGGER=failover.
 *
 * The keys come from a mirror, so a vanishing is seen by the watch within
 * milliseconds, or, when the watch was down or silent, by the next re-list.
 * How late it may be learnt is bounded by the batch's `notBeforeMs`; a node
 * that learns it too late leaves the tick alone rather than risk a second
 * rerun (another node may have rerun it and its marker expired).
 */
export class FailoverWatcher {
  private readonly now: () => number;
  private readonly onChanges = (batch: MirrorBatch<RunSummary | null>): void => {
    // Summaries written in the same transactions as these deletes (the mirror watches runs/ too): those runs finished.
    const summarized = new Set(batch.changes.flatMap((c) => (c.type === 'put' && c.value && c.value.status !== 'running' ? [c.value.id] : [])));
    for (const change of batch.changes) {
      if (change.type !== 'delete' || !change.previous || summarized.has(change.previous.id)) continue;
      const run = change.previous;
      void this.onGone(run, batch.notBeforeMs).catch((err: unknown) => this.deps.log.warn('failover check failed', { job: run.job, run: run.id, err }));
    }
  };

  constructor(private readonly deps: FailoverDeps) {
    this.now = deps.now ?? monotonicMs;
  }

  async start(): Promise<void> {
    this.deps.running.on('changes', this.onChanges);
    await this.deps.running.start();
  }

  async stop(): Promise<void> {
    this.deps.running.off('changes', this.onChanges);
    await this.deps.running.stop();
  }

  /** `goneAfterMs`: the run's key vanished at or after this instant. */
  private async onGone(run: RunSummary, goneAfterMs: number): Promise<void> {
    // A rerun whose host died too is not run a third time, as when markers never expired: at most one rerun per tick.
    if (run.host === this.deps.nodeId) return;
    const job = this.deps.job(run.job);
    if (!job) return;
    if (job.options.failover !== 'rerun' || run.trigger === 'failover') {
      if (this.deps.lostElsewhere && this.deps.countsLost?.(job) && !(await this.deps.finished(run.job, run.id))) this.deps.lostElsewhere(run);
      return;
    }
    if (!this.deps.eligible(job) || !this.deps.mayAct()) return;
    if (await this.deps.finished(run.job, run.id)) return;
    if (this.tooLate(run, goneAfterMs, 'noticed')) return;
    // A shard is rerun as that shard: its own marker, busy mark and fence.
    const shard = run.shard != null && run.shards != null ? { index: run.shard, count: run.shards } : null;
    const unit = unitOf(run.job, shard);
    const claim = await this.deps.claimFailover(unit, run.tickMs);
    if (!claim || this.tooLate(run, goneAfterMs, 'claimed')) return;
    const tick = { job, tickMs: run.tickMs, trigger: 'failover' as const, fence: claim.fence, shard };
    const record = { ...tick, job: job.name };
    // This host's --slots hold for reruns too: a survivor without room records the rerun skipped, as for a full group.
    const slots = this.deps.holdSlots(job);
    if (!slots.ok) {
      this.deps.recorder.skipped(record, `failover rerun skipped: ${slots.why}`);
      return;
    }
    try {
      await this.rerun(run, unit, tick);
    } finally {
      // Once submitted, the run's slots are the executor's to count.
      slots.release();
    }
  }

  /** The rerun claimed, this host's slots held: a group permit, the busy mark, then the start. */
  private async rerun(run: RunSummary, unit: string, tick: { job: JobDefinition; tickMs: number; trigger: 'failover'; fence: number; shard: ShardRef | null }): Promise<void> {
    const { job } = tick;
    const record = { ...tick, job: job.name };
    // A group's limit holds for reruns too: the group's other runs may have taken the dead host's permit since.
    const permit = await this.deps.groupPermit(job, unit, run.tickMs);
    if (!permit.ok) {
      this.deps.recorder.skipped(record, `failover rerun skipped: ${permit.why}`);
      return;
    }
    const release = () => permit.permit?.release();
    // overlap=skip holds for reruns too: a later tick may have started since the host died.
    const busy = job.options.overlap === 'skip' && job.options.mode !== 'all' ? await this.deps.takeBusy(unit, run.tickMs).catch((err: unknown) => {
      release();
      throw err;
    }) : { taken: true as const, busyFence: null };
    if (!busy.taken) {
      release();
      this.deps.recorder.skipped(record, `failover rerun skipped: overlap=skip, the job is running on ${busy.holder}`);
      return;
    }
    if (!this.deps.mayAct() || ('markGone' in busy && busy.markGone) || (permit.permit && !permit.permit.held())) {
      release();
      this.deps.recorder.lost(record, 'failover rerun won, but this node could not prove its etcd lease any more; not started');
      return;
    }
    this.deps.log.warn('host died mid-run: running the tick again here (failover=rerun)', { job: run.job, tick: run.tickMs, deadHost: run.host, run: run.id });
    this.deps.executor.submit({ ...tick, busyFence: busy.busyFence, onSettled: permit.permit ? release : undefined });
  }

  private tooLate(run: RunSummary, goneAfterMs: number, step: 'noticed' | 'claimed'): boolean {
    const lateMs = this.now() - goneAfterMs;
    if (lateMs <= this.deps.windowMs) return false;
    this.deps.log.warn(`a run's host died, but this node ${step} it too late to rerun it safely (failover=rerun)`, { job: run.job, tick: run.tickMs, deadHost: run.host, run: run.id, lateMs, windowMs: this.deps.windowMs });
    return true;
  }
}
