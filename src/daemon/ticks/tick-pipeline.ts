/**
 * The path of one tick, from "came due" to "started" or "recorded why not":
 *
 *   plan     planDueTicks: on time, catch-up, or missed (scheduler/due-plan.ts)
 *   place    Placement: how long this host defers to better-placed peers
 *   room     TickRoom: requires=, --slots and a group permit here, else pass the tick on (tick-room.ts)
 *   claim    Coordinator.claim, retried while the tick is on time (claim-retry.ts)
 *   act      submit the claimed tick to the runner, or record it (RunRecorder):
 *            missed, skipped (busy elsewhere), lost (claimed but unsafe to
 *            start, or the claim's outcome unknown), paused (an operator's
 *            `dcron pause`: claimed like any tick, so recorded once, and
 *            not run), and the ticks nobody claimed in time (the gap
 *            behind the cursor)
 *
 * Every decision a tick goes through on this host is here; the daemon only
 * feeds it due ticks and job changes.
 */
import type { ClaimOutcome, ClaimRequest, Coordinator } from '../coordination/coordinator.js';
import type { JobDefinition, ShardRef } from '../crontab/types.js';
import type { SubmitResult, TickRun } from '../executor/executor.js';
import type { Logger } from '../log.js';
import type { RunRecorder } from '../runlog/run-recorder.js';
import type { Trigger } from '../runlog/types.js';
import type { Schedule } from '../schedule/types.js';
import type { Clock } from '../scheduler/clock.js';
import { planDueTicks } from '../scheduler/due-plan.js';
import type { DueTicks } from '../scheduler/tick-scheduler.js';
import { claimWithRetry } from './claim-retry.js';
import { untilAnswered } from '../timing.js';
import { JobQueues } from './job-queues.js';
import type { Placement } from './placement.js';
import { shardsOf, unitOf } from './shards.js';
import { isDependent } from './dependencies.js';
import { pausedAt, type PauseState } from '../jobs/job-pauses.js';
import type { HostCapacity } from './host-capacity.js';
import { permitFor, refusalText, type GroupPermit, type GroupSlots } from '../coordination/group-slots.js';
import { GroupFullError } from '../errors.js';
import { ALWAYS_ROOM, noRoomReason, TickRoom, type Lack, type Room } from './tick-room.js';

/** What the pipeline hands claimed ticks to: the executor. */
export interface TickRunner {
  submit(run: TickRun): SubmitResult;
  /** A run of the unit (the job, or one shard of it) is executing here. */
  isRunning(unit: string): boolean;
}

/** One tick of one unit on its way through the pipeline. */
interface UnitTick {
  job: JobDefinition;
  tickMs: number;
  trigger: Trigger;
  shard: ShardRef | null;
  /** The unit's name in coordination: the job's, or its shard's (shards.ts). */
  unit: string;
  /** When the tick came due: the tick itself, or for a dependent job when its parents ended. */
  dueMs: number;
}

export type TickOutcome = 'due' | 'claimed' | 'missed';

export interface TickPipelineOptions {
  coordinator: Coordinator;
  placement: Placement;
  recorder: RunRecorder;
  runner: TickRunner;
  clock: Clock;
  log: Logger;
  /** A tick started later than this while the daemon runs still counts as on time. */
  lateGraceMs: number;
  /** When this daemon started: on a host that shares no ticks, earlier ones were missed while it was down. */
  startedMs: number;
  /**
   * Peers share this host's ticks (a cluster): a tick due before this daemon
   * started may be in a peer's hands right now, so only the late grace makes
   * it missed; and a host that cannot record a run leaves its ticks to them.
   */
  sharesTicks: boolean;
  /** False while the run log cannot take a record (the data dir is full). */
  canRecord: () => boolean;
  /** The job's definition as it stands when its ticks are handled (null: removed meanwhile). */
  jobOf: (name: string) => JobDefinition | undefined;
  scheduleOf: (job: JobDefinition) => Schedule | null;
  /** This host's slots (`--slots`): a host without room passes the tick on (ticks/tick-room.ts). */
  capacity: HostCapacity;
  /** Concurrency groups' permits, and this daemon's `--group NAME=K` limits (undefined: none for the group here). */
  groups: GroupSlots;
  groupLimit: (group: string) => number | undefined;
  /** Why this host does not meet the job's `requires=` now; null when it does. */
  unmetRequirement: (job: JobDefinition) => string | null;
  /** The operator's pause of the job, if any (jobs/job-pauses.ts): ticks it covers are recorded paused. */
  pauseOf: (job: string) => PauseState | undefined;
  /** Counts for metrics. */
  onTicks: (outcome: TickOutcome, job: string, count: number) => void;
  /** A coordinator request failed (metrics count etcd errors). */
  onStoreError: () => void;
}

/** Most missed ticks recorded one by one per batch; the rest get one summary record. */
export const MAX_MISSED_RECORDS = 100;

export class TickPipeline {
  private readonly queues: JobQueues;
  private readonly room: TickRoom;
  private stopped = false;

  constructor(private readonly opts: TickPipelineOptions) {
    this.queues = new JobQueues((job, err) => opts.log.error('tick handling failed', { job, err }));
    this.room = new TickRoom({
      capacity: opts.capacity,
      groups: opts.groups,
      groupLimit: opts.groupLimit,
      unmetRequirement: opts.unmetRequirement,
      takenElsewhere: opts.sharesTicks ? (unit, tickMs, withinMs) => opts.coordinator.takenElsewhere(unit, tickMs, withinMs) : null,
      clock: opts.clock,
      lateGraceMs: opts.lateGraceMs,
      log: opts.log,
      onStoreError: opts.onStoreError,
    });
  }

  /** Ticks that came due (from the scheduler), handled after the job's earlier ones. */
  due(due: DueTicks): void {
    this.queues.enqueue(due.key, () => this.handleDue(due));
  }

  /** An `@reboot` job: its one tick is the daemon's start. */
  reboot(job: JobDefinition): void {
    this.opts.onTicks('due', job.name, 1);
    const tickMs = Math.floor(this.opts.startedMs / 1000) * 1000;
    this.queues.enqueue(job.name, () => this.claimAll(job, tickMs, 'schedule', tickMs));
  }

  /**
   * A dependent job's parents ended the tick `tickMs` at `dueMs` (see
   * ticks/dependencies.ts): its tick is theirs, claimed on its cursor like a
   * scheduled one, so it runs once cluster-wide. Learnt late (the daemon was
   * down, or no node could claim), it runs inside the job's catchup window
   * or is recorded missed.
   */
  dependencyDue(job: JobDefinition, tickMs: number, dueMs: number): void {
    this.queues.enqueue(job.name, async () => {
      const current = this.opts.jobOf(job.name);
      if (!current || this.stopped) return;
      this.opts.onTicks('due', job.name, 1);
      const lateMs = this.opts.clock.now() - dueMs;
      if (lateMs <= this.opts.lateGraceMs || lateMs <= current.options.catchupMs) return this.claimAll(current, tickMs, 'dependency', dueMs);
      const why = `its parents ended this tick while no daemon could start it, ${current.options.catchupMs > 0 ? 'outside its catchup window' : 'and the job has no catchup window'}`;
      await Promise.all(shardsOf(current).map((shard) => this.recordMissed(current, shard, [tickMs], null, why, 'dependency')));
    });
  }

  /**
   * Run a job now, outside its schedule: a fresh fence, no cursor; every
   * shard of a sharded job, here. A job in a concurrency group takes a
   * permit per shard, without waiting: refused (GroupFullError) when its
   * first shard has none; a later shard without one is recorded skipped.
   */
  async runNow(job: JobDefinition): Promise<SubmitResult> {
    const tickMs = Math.floor(this.opts.clock.now() / 1000) * 1000;
    const results: SubmitResult[] = [];
    for (const shard of shardsOf(job)) {
      const unit = unitOf(job.name, shard);
      const permit = await permitFor(this.opts.groups, this.opts.groupLimit, job.options.group, { unit, tickMs });
      if (!permit.ok && results.length === 0) throw new GroupFullError(job.name, refusalText(permit), permit.full);
      const fence = await this.opts.coordinator.nextFence(unit).catch((err: unknown) => {
        if (permit.ok) permit.permit?.release();
        throw err;
      });
      const run = { job, tickMs, trigger: 'manual' as const, fence, busyFence: null, shard };
      if (!permit.ok) results.push({ kind: 'skipped', record: this.opts.recorder.skipped({ ...run, job: job.name }, `not started: ${refusalText(permit)}`) });
      else results.push(this.opts.runner.submit({ ...run, onSettled: permit.permit ? () => permit.permit!.release() : undefined }));
    }
    return results.find((r) => r.kind === 'started') ?? results[0];
  }

  /**
   * A run chain holding a busy mark ended. Retried until etcd answers: a mark
   * left behind while etcd was unreachable lives as long as this node's
   * lease, and would skip every later tick of the job cluster-wide. The
   * release compares the mark's revision, so a retry never drops a newer
   * run's mark.
   */
  async releaseBusy(unit: string, fence: number): Promise<void> {
    await untilAnswered(() => this.opts.coordinator.releaseBusy(unit, fence), {
      sleep: (ms) => this.sleep(ms),
      stopped: () => this.stopped,
      onFirstError: (err) => this.opts.log.warn('could not release busy mark; retrying until etcd answers', { job: unit, err }),
    });
  }

  /** No new ticks are handled; claims already under way go on (see settled()). */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves when every tick handed over so far has been claimed and acted on, or given up. */
  settled(): Promise<void> {
    return this.queues.settled();
  }

  private async handleDue(due: DueTicks): Promise<void> {
    const { opts } = this;
    const job = opts.jobOf(due.key);
    if (!job || this.stopped) return;
    opts.onTicks('due', job.name, due.ticks.length);
    const plan = planDueTicks({
      ticks: due.ticks,
      overflowUntil: due.overflowUntil,
      nowMs: opts.clock.now(),
      daemonStartMs: opts.sharesTicks ? Number.NEGATIVE_INFINITY : opts.startedMs,
      catchupMs: job.options.catchupMs,
      lateGraceMs: opts.lateGraceMs,
      schedule: opts.scheduleOf(job),
    });
    if (plan.missed.length > 0) {
      const why = `the tick passed while no daemon was running it, ${job.options.catchupMs > 0 ? 'outside its catchup window' : 'and the job has no catchup window'}`;
      await Promise.all(shardsOf(job).map((shard) => this.recordMissed(job, shard, plan.missed, plan.unlisted, why)));
    }
    for (const r of plan.run) await this.claimAll(job, r.tickMs, r.trigger, r.tickMs);
  }

  /** A tick of every shard of the job (one unit when it is not sharded), each claimed on its own. */
  private async claimAll(job: JobDefinition, tickMs: number, trigger: Trigger, dueMs: number): Promise<void> {
    const shards = shardsOf(job);
    const claimOne = (shard: ShardRef | null) => this.claimAndSubmit({ job, tickMs, trigger, shard, unit: unitOf(job.name, shard), dueMs });
    if (shards.length === 1) return claimOne(shards[0]);
    const results = await Promise.allSettled(shards.map(claimOne));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async recordMissed(job: JobDefinition, shard: ShardRef | null, missed: number[], unlisted: { afterMs: number; untilMs: number } | null, reason: string, trigger: Trigger = 'schedule'): Promise<void> {
    if (missed.length === 0) return;
    // Only the host that moves the cursor past the missed ticks records them, so each is recorded once.
    // A move whose reply was lost may have committed, leaving the ticks behind the cursor where no
    // later claim would record them: recorded here then, at worst twice rather than not at all.
    let why = reason;
    try {
      const moved = await this.opts.coordinator.advanceCursor(unitOf(job.name, shard), Math.max(missed[missed.length - 1], unlisted?.untilMs ?? 0), { perHost: job.options.mode === 'all' });
      if (!moved) return;
    } catch (err) {
      this.opts.onStoreError();
      this.opts.log.warn('could not move the cursor past missed ticks; recording them here', { job: job.name, err });
      why += ` (whether another node recorded it too is unknown: ${(err as Error).message})`;
    }
    this.opts.onTicks('missed', job.name, missed.length);
    // A daemon down for days must not write a million records: the newest are
    // recorded one by one, the older ones in one summary record.
    const listed = missed.slice(-MAX_MISSED_RECORDS);
    const older = missed.length - listed.length;
    const { recorder } = this.opts;
    if (older > 0 || unlisted) {
      const until = unlisted ? unlisted.untilMs : listed[0];
      recorder.missed(job.name, missed[0], `${why}; so were ${older > 0 ? older - 1 : 'all'} further ticks before ${new Date(until).toISOString()}, not recorded one by one`, shard, trigger);
    }
    for (const tick of older > 0 ? listed : missed) this.recordNotRun(job.name, tick, why, shard, trigger);
  }

  /** A tick that passed unrun: paused when the operator's pause covers it (it would not have run anyway), else missed. */
  private recordNotRun(job: string, tickMs: number, why: string, shard: ShardRef | null, trigger: Trigger = 'schedule'): void {
    const pause = this.opts.pauseOf(job);
    if (pausedAt(pause, tickMs)) this.opts.recorder.paused({ job, tickMs, trigger, fence: null, shard }, pauseReason(pause!));
    else this.opts.recorder.missed(job, tickMs, why, shard, trigger);
  }

  private async claimAndSubmit(t: UnitTick): Promise<void> {
    const { opts } = this;
    const { job, tickMs, unit } = t;
    // A node that cannot record a run leaves the tick to its peers; a single host has nobody to leave it to.
    if (opts.sharesTicks && !opts.canRecord()) {
      opts.log.debug('tick not claimed: the run log is full', { job: job.name, tick: tickMs });
      return;
    }
    const delay = opts.placement.delayFor(job, tickMs, unit);
    if (delay === null) return;
    // A node ranked before this one usually claims within milliseconds: seeing that ends the wait at
    // once, sparing a claim certain to fail and freeing this job's queue for its next tick. The
    // wait counts from the tick: the first-ranked node claims ahead of it (claim lead).
    const wait = delay + Math.max(0, tickMs - opts.clock.now());
    if (delay > 0 && (await opts.coordinator.takenElsewhere(unit, tickMs, wait))) {
      opts.log.debug('tick not claimed: taken', { job: job.name, tick: tickMs });
      return;
    }
    const pause = opts.pauseOf(job.name);
    const paused = pausedAt(pause, tickMs);
    // A run of this job still going here may end before the tick: overlap decides at the tick, not before.
    if (!paused && tickMs > opts.clock.now() && job.options.overlap !== 'allow' && opts.runner.isRunning(unit)) await this.untilTick(tickMs);
    // A paused tick runs nothing, so it needs no room. Slots are held until the executor has the run (then it
    // counts them), so two ticks claimed at once cannot share the last one; a group permit, until the run is over.
    const room: Room = paused ? ALWAYS_ROOM : await this.room.find(t);
    if (room.kind === 'taken') {
      opts.log.debug('tick not claimed: taken by a host with room', { job: job.name, tick: tickMs });
      return;
    }
    let permit = room.kind === 'held' ? room.permit : null;
    try {
      const handedOver = await this.claimAndAct(t, pause, paused, room.kind === 'none' ? room.lack : null, permit);
      if (handedOver) permit = null;
    } finally {
      if (room.kind === 'held') room.releaseSlots();
      permit?.release();
    }
  }

  /** Claims the tick and starts or records it; true when the run took the group permit (it gives it back when over). */
  private async claimAndAct(t: UnitTick, pause: PauseState | undefined, paused: boolean, noRoom: Lack | null, permit: GroupPermit | null): Promise<boolean> {
    const { opts } = this;
    const { job, tickMs, trigger, shard, unit } = t;
    const perHost = job.options.mode === 'all';
    // A busy mark is one per job cluster-wide; mode=all jobs keep overlap per host, in the executor.
    // A paused tick runs nothing, so it takes no mark: it is claimed only to be recorded once. Nor does one with no room.
    const holdBusy = job.options.overlap === 'skip' && !perHost && !paused && noRoom === null;
    const tick = { job: job.name, tickMs, trigger, shard };
    let claim: ClaimOutcome;
    try {
      const request = { job: unit, tickMs, holdBusy, perHost };
      claim = await this.claim({ ...request, early: tickMs > opts.clock.now() }, t.dueMs);
      // The job is busy now, but its run may end before the tick: claimed (or skipped) at the tick.
      if (claim.outcome === 'notYet') {
        await this.untilTick(tickMs);
        claim = await this.claim(request, t.dueMs);
      }
    } catch (err) {
      // The last attempt may have committed with its reply lost: the tick may be this node's and
      // nobody else's, so it is recorded here rather than left without a trace.
      opts.recorder.lost({ ...tick, fence: null }, `the claim's outcome is unknown (${(err as Error).message}); if it committed, this tick did not run`);
      throw err;
    }
    switch (claim.outcome) {
      case 'claimed': {
        opts.onTicks('claimed', job.name, 1);
        // A claim answered after the lease lost its proof: the job's guard and on-lost may already
        // have acted, and the busy mark may die with the lease while the job ran on. Not started.
        const unsafe = !opts.coordinator.mayAct()
          ? 'this node could not prove its etcd lease when the claim was answered'
          : claim.busyMarkGone
            ? 'its overlap=skip busy mark went with an etcd lease replaced while the claim was in flight, so the job may be running elsewhere'
            : permit && !permit.held()
              ? `its group ${permit.group} permit went with an etcd lease replaced while the tick was claimed, so the group may be full`
              : null;
        let handedOver = false;
        if (paused) opts.recorder.paused({ ...tick, fence: claim.fence }, pauseReason(pause!));
        else if (noRoom !== null) opts.recorder.skipped({ ...tick, fence: claim.fence }, noRoomReason(noRoom, opts.sharesTicks, opts.lateGraceMs));
        else if (unsafe) opts.recorder.lost({ ...tick, fence: claim.fence }, `claimed, but ${unsafe}; not started`);
        else {
          // Claimed ahead of the tick (claim lead): recorded now, started at the tick.
          opts.runner.submit({ job, tickMs, trigger, fence: claim.fence, busyFence: holdBusy ? claim.fence : null, startAtMs: tickMs, shard, onSettled: permit ? () => permit.release() : undefined });
          handedOver = true;
        }
        if (claim.previousTickMs != null) this.recordUnclaimed(job, shard, claim.previousTickMs, tickMs);
        return handedOver;
      }
      case 'busy':
        opts.recorder.skipped({ ...tick, fence: claim.fence }, `overlap=skip: the ${shard ? `shard ${shard.index} of the job` : 'job'} is running on ${claim.holder}`);
        if (claim.previousTickMs != null) this.recordUnclaimed(job, shard, claim.previousTickMs, tickMs);
        return false;
      default:
        opts.log.debug(`tick not claimed: ${claim.outcome}`, { job: unit, tick: tickMs });
        return false;
    }
  }

  /** Ticks strictly between where the cursor stood and the tick just claimed: nobody claimed them in time. */
  private recordUnclaimed(job: JobDefinition, shard: ShardRef | null, fromMs: number, toMs: number): void {
    // A dependent job's ticks are its parents': there is no schedule to find the gap in.
    if (isDependent(job)) return;
    const schedule = this.opts.scheduleOf(job);
    if (!schedule) return;
    const gap: number[] = [];
    for (let t = schedule.next(fromMs); t !== null && t < toMs && gap.length < MAX_MISSED_RECORDS; t = schedule.next(t)) gap.push(t);
    if (gap.length === 0) return;
    for (const t of gap) this.recordNotRun(job.name, t, 'no node claimed this tick in time (leases unproven or etcd unreachable)', shard);
    this.opts.onTicks('missed', job.name, gap.length);
    this.opts.log.warn('ticks passed unclaimed by any node; recorded as missed', { job: job.name, count: gap.length, from: gap[0], to: gap[gap.length - 1] });
  }

  private claim(request: ClaimRequest, dueMs: number): Promise<ClaimOutcome> {
    return claimWithRetry(request, {
      claim: (r) => this.opts.coordinator.claim(r),
      clock: this.opts.clock,
      lateGraceMs: this.opts.lateGraceMs,
      sleep: (ms) => this.sleep(ms),
      onError: (err, attempt, retrying) => {
        this.opts.onStoreError();
        if (retrying) this.opts.log.warn('claim failed; retrying while the tick is on time', { job: request.job, tick: request.tickMs, attempt, err });
      },
    }, dueMs);
  }

  /** A claim made ahead of its tick (claim lead) that must be made at the tick instead. */
  private untilTick(tickMs: number): Promise<void> {
    return this.sleep(tickMs - this.opts.clock.now());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.opts.clock.setTimer(resolve, ms));
  }
}

function pauseReason(pause: PauseState): string {
  const until = pause.untilMs === null ? 'until resumed' : `until ${new Date(pause.untilMs).toISOString()}`;
  return `the job is paused (by ${pause.by} at ${new Date(pause.atMs).toISOString()}, ${until})`;
}
