/**
 * Dependent jobs (`after=` and `after-failure=`): when they come due. A
 * dependent job has no schedule; its tick is its parents' tick, and it is
 * due when the tick ledger's done states say so:
 *
 *   after=a,b        every parent has ended ok a tick later than the child's
 *                    cursor (the last parent tick it was claimed for); the
 *                    child's tick is the newest of those, due when the last
 *                    of them ended
 *   after-failure=a  a parent failed a tick later than the child's cursor
 *
 * Every node runs this on the same done states (mirrored from etcd), so the
 * child is claimed by whichever node placement picks, on the child's cursor
 * like any tick: once cluster-wide, also when the node that ended the
 * parent's tick died right after. A node that starts later, or learns of
 * the end late, sees the same states at start: the child runs in its
 * catchup window or is recorded missed (TickPipeline.dependencyDue).
 */
import type { Coordinator } from '../coordination/coordinator.js';
import type { JobDefinition } from '../crontab/types.js';
import type { Logger } from '../log.js';
import { leastCursor } from './shards.js';
import type { EndedTick, TickLedger } from './tick-ledger.js';

export interface DependencyTriggerOptions {
  ledger: TickLedger;
  coordinator: Pick<Coordinator, 'cursor' | 'startCursor'>;
  jobOf: (name: string) => JobDefinition | undefined;
  /** A dependent job's parents ended `tickMs` at `dueMs`. */
  due: (job: JobDefinition, tickMs: number, dueMs: number) => void;
  now: () => number;
  log: Logger;
}

export function isDependent(job: JobDefinition): boolean {
  return job.options.after !== null || job.options.afterFailure !== null;
}

export class DependencyTrigger {
  /** Parent -> the names of the jobs that follow it. */
  private children = new Map<string, Set<string>>();
  /** The newest tick handed over per child: a repeated done event does not queue the same tick again. */
  private readonly handedOver = new Map<string, number>();
  private stopped = false;

  constructor(private readonly opts: DependencyTriggerOptions) {
    opts.ledger.on('done', (parent) => {
      for (const child of this.children.get(parent) ?? []) this.check(child);
    });
  }

  hasDependents(job: string): boolean {
    return this.children.has(job);
  }

  /** The job table changed: which jobs follow which, and whether any is due now (a start, a new parent tick missed while down). */
  update(jobs: Iterable<JobDefinition>): void {
    const children = new Map<string, Set<string>>();
    const dependents: string[] = [];
    for (const job of jobs) {
      if (!isDependent(job)) continue;
      dependents.push(job.name);
      for (const parent of [...(job.options.after ?? []), ...(job.options.afterFailure ?? [])]) {
        let set = children.get(parent);
        if (!set) children.set(parent, (set = new Set()));
        set.add(job.name);
      }
    }
    this.children = children;
    const current = new Set(dependents);
    for (const name of this.handedOver.keys()) if (!current.has(name)) this.handedOver.delete(name);
    for (const name of dependents) this.check(name);
  }

  stop(): void {
    this.stopped = true;
  }

  private check(name: string): void {
    void this.checkNow(name).catch((err: unknown) => this.opts.log.warn('could not check whether a dependent job is due', { job: name, err }));
  }

  private async checkNow(name: string): Promise<void> {
    const job = this.opts.jobOf(name);
    if (!job || this.stopped || !isDependent(job)) return;
    // A job with no cursor is new: it starts from now, and parent ticks before that are not its own.
    const { cursorMs: cursor, fresh } = await leastCursor(this.opts.coordinator, job, this.opts.now());
    if (fresh) return;
    const due = this.dueTick(job, Math.max(cursor, this.handedOver.get(name) ?? Number.NEGATIVE_INFINITY));
    if (!due) return;
    this.handedOver.set(name, due.tickMs);
    this.opts.due(job, due.tickMs, due.atMs);
  }

  private dueTick(job: JobDefinition, afterMs: number): EndedTick | null {
    const { after, afterFailure } = job.options;
    if (after) {
      const ended = after.map((p) => this.opts.ledger.doneOf(p)?.ok ?? null);
      if (ended.some((e) => e === null || e.tickMs <= afterMs)) return null;
      const tickMs = Math.max(...ended.map((e) => e!.tickMs));
      return { tickMs, atMs: Math.max(...ended.map((e) => e!.atMs)) };
    }
    const failed = (afterFailure ?? []).map((p) => this.opts.ledger.doneOf(p)?.failed ?? null).filter((e): e is EndedTick => e !== null && e.tickMs > afterMs);
    if (failed.length === 0) return null;
    return failed.reduce((a, b) => (b.tickMs > a.tickMs ? b : a));
  }
}
