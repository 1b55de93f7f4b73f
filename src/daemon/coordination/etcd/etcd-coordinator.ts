import type { ClaimOutcome, ClaimRequest, Coordinator, CursorScope } from '../coordinator.js';
import type { CursorMirror } from './cursor-mirror.js';
import type { CursorStarter } from './cursor-starter.js';
import type { TickClaims } from './tick-claims.js';
import { parseUnit } from '../../ticks/shards.js';

export interface EtcdCoordinatorOptions {
  /** This node's copy of the cursors: answers reads and spares claims certain to fail. */
  mirror?: CursorMirror;
  /** Writes the cursors of new jobs in the background (with the mirror: see startCursor()). */
  starter?: CursorStarter;
  /** When a job entered the cluster's list (its record's publish time); undefined if unknown. */
  introducedAt?: (job: string) => number | undefined;
}

/**
 * The daemon's Coordinator on an etcd cluster. Cursors, fences and busy marks
 * live in etcd, so every host sees the same ones. Reads come from the
 * node's mirror of the cursors when it has one; every decision is still a
 * transaction on etcd.
 */
export class EtcdCoordinator implements Coordinator {
  /** The client and lease behind `claims` (and the mirror) are shared, so whoever wired them closes them. */
  constructor(private readonly claims: TickClaims, private readonly opts: EtcdCoordinatorOptions = {}) {}

  claim(request: ClaimRequest): Promise<ClaimOutcome> {
    return this.claims.claim(request);
  }

  async releaseBusy(job: string, fence: number): Promise<void> {
    await this.claims.releaseBusy(job, fence);
  }

  nextFence(job: string): Promise<number> {
    return this.claims.nextFence(job);
  }

  /** From the mirror when there is one, no round trip. Null: the job is new (see startCursor). */
  async cursor(job: string, scope: CursorScope = {}): Promise<number | null> {
    const { mirror } = this.opts;
    if (!mirror) return this.claims.cursor(job, scope);
    return mirror.tickOf(this.claims.cursorKey(job, scope)) ?? null;
  }

  /**
   * A shared cursor starts where the job entered the list, by the publishing
   * host's clock (never later than ours), so every node starts the job from
   * the same instant. With the starter it is written in the background: one
   * round trip per new job made the first sync of 100,000 jobs take minutes.
   * Per-host cursors (mode=all, few) only this node claims: they start now.
   */
  async startCursor(job: string, nowMs: number, scope: CursorScope = {}): Promise<number> {
    if (scope.perHost) {
      await this.claims.advanceCursor(job, nowMs, scope);
      return nowMs;
    }
    // A shard (JOB/I) entered the list with its job.
    const fromMs = Math.min(nowMs, this.opts.introducedAt?.(parseUnit(job).job) ?? nowMs);
    if (this.opts.starter) this.opts.starter.start(job, fromMs);
    else await this.claims.createCursor(job, fromMs);
    return fromMs;
  }

  /** Many jobs scheduled at once (boot, a large edit): new cursors are written once they all are. */
  async batch<T>(work: () => Promise<T>): Promise<T> {
    const release = this.opts.starter?.hold();
    try {
      return await work();
    } finally {
      release?.();
    }
  }

  advanceCursor(job: string, tickMs: number, scope?: CursorScope): Promise<boolean> {
    return this.claims.advanceCursor(job, tickMs, scope);
  }

  takenElsewhere(job: string, tickMs: number, withinMs: number): Promise<boolean> {
    const { mirror } = this.opts;
    if (!mirror) return new Promise((resolve) => setTimeout(() => resolve(false), withinMs));
    return mirror.waitTakenElsewhere(this.claims.cursorKey(job), tickMs, withinMs);
  }

  mayAct(): boolean {
    return this.claims.mayAct();
  }

  claimFailover(job: string, tickMs: number): Promise<{ fence: number } | null> {
    return this.claims.claimFailover(job, tickMs);
  }

  async close(): Promise<void> {
    this.opts.starter?.stop();
  }
}
