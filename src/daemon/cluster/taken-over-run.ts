/**
 * Starting a run this node took over from another (a failover rerun, a
 * retry moved here by retry-elsewhere): the tick is already claimed, by the
 * marker that decided this node runs it, so what is left is what a tick
 * claim would have taken with it. The job's concurrency group permit (the
 * other host's went with its lease or its chain), this host's slots, and, for overlap=skip, its
 * busy mark (a later tick may have started since); a run that cannot have
 * them is recorded skipped, and one this node may no longer act on, lost.
 */
import { refusalText, type PermitOutcome } from '../coordination/group-slots.js';
import type { TickClaims } from '../coordination/etcd/tick-claims.js';
import type { Executor, TickRun } from '../executor/executor.js';
import type { JobDefinition } from '../crontab/types.js';
import type { RunRecorder } from '../runlog/run-recorder.js';
import { unitOf } from '../ticks/shards.js';
import type { SlotHold } from '../ticks/host-capacity.js';

export interface TakeOverDeps {
  executor: Executor;
  recorder: RunRecorder;
  mayAct: () => boolean;
  takeBusy: TickClaims['takeBusy'];
  groupPermit: (job: JobDefinition, unit: string, tickMs: number) => Promise<PermitOutcome>;
  /** The job's `slots=` of this host's `--slots`, held until the executor has the run (it counts them from then). */
  holdSlots: (job: JobDefinition) => SlotHold;
}

/** `what` names the run in its records: 'failover rerun', 'moved retry'. True when it started. */
export async function startTakenOver(deps: TakeOverDeps, tick: Omit<TickRun, 'busyFence'>, what: string): Promise<boolean> {
  // This host's --slots hold for it too: without room it is recorded skipped, as for a full group.
  const slots = deps.holdSlots(tick.job);
  if (!slots.ok) {
    deps.recorder.skipped({ ...tick, job: tick.job.name }, `${what} skipped: ${slots.why}`);
    return false;
  }
  try {
    return await startHoldingSlots(deps, tick, what);
  } finally {
    // Once submitted, the run's slots are the executor's to count.
    slots.release();
  }
}

async function startHoldingSlots(deps: TakeOverDeps, tick: Omit<TickRun, 'busyFence'>, what: string): Promise<boolean> {
  const { job } = tick;
  const unit = unitOf(job.name, tick.shard ?? null);
  const record = { ...tick, job: job.name };
  const permit = await deps.groupPermit(job, unit, tick.tickMs);
  if (!permit.ok) {
    deps.recorder.skipped(record, `${what} skipped: ${refusalText(permit)}`);
    return false;
  }
  const release = () => permit.permit?.release();
  const busy = job.options.overlap === 'skip' && job.options.mode !== 'all'
    ? await deps.takeBusy(unit, tick.tickMs).catch((err: unknown) => {
        release();
        throw err;
      })
    : { taken: true as const, busyFence: null };
  if (!busy.taken) {
    release();
    deps.recorder.skipped(record, `${what} skipped: overlap=skip, the job is running on ${busy.holder}`);
    return false;
  }
  if (!deps.mayAct() || ('markGone' in busy && busy.markGone) || (permit.permit && !permit.permit.held())) {
    release();
    deps.recorder.lost(record, `${what} won, but this node could not prove its etcd lease any more; not started`);
    return false;
  }
  deps.executor.submit({ ...tick, busyFence: busy.busyFence, onSettled: permit.permit ? release : undefined });
  return true;
}
