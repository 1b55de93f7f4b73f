import type { ClaimOutcome, ClaimRequest, Coordinator, CursorScope } from '../coordinator.js';
import type { CursorMirror } from './cursor-mirror.js';
import type { CursorStarter } from './cursor-starter.js';
import type { TickClaims } from './tick-claims.js';

export interface EtcdCoordinatorOptions {
  /** This node's copy of the cursors: answers reads and spares claims certain to fail. */
  mirror?: CursorMirror;
  /** Writes the cursors of new jobs in the background (with the mirror: see cursor()). */
  starter?: CursorStarter;
  now?: () => number;
}

/**
 * The daemon's Coordinator on an etcd cluster. Cursors, fences and busy marks
 * live in etcd, so every host sees the same ones. Reads come from the
 * node's mirror of the cursors when it has one; every decision is still a
 * transaction on etcd.
 */
export class EtcdCoordinator implements Coordinator {
  private readonly now: () => number;

  /** The client and lease behind `claims` (and the mirror) are shared, so whoever wired them closes them. */
  constructor(private readonly claims: TickClaims, private readonly opts: EtcdCoordinatorOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  claim(request: ClaimRequest): Promise<ClaimOutcome> {
    return this.claims.claim(request);
  }

  async releaseBusy(job: string, fence: number): Promise<void> {
    await this.claims.releaseBusy(job, fence);
  }

  nextFence(job: string): Promise<number> {
    return this.claims.nextFence(job);
  }

  /**
   * From the mirror, no round trip. A job with no shared cursor is new: it
   * starts from now, and its cursor is created at now by the starter, in
   * the background, instead of by the caller one round trip per job (with
   * 100,000 jobs first sync took minutes). Per-host cursors (mode=all, few)
   * are still created by the caller.
   */
  async cursor(job: string, scope: CursorScope = {}): Promise<number | null> {
    const { mirror, starter } = this.opts;
    if (!mirror) return this.claims.cursor(job, scope);
    const tick = mirror.tickOf(this.claims.cursorKey(job, scope));
    if (tick !== undefined) return tick;
    if (scope.perHost || !starter) return null;
    const now = this.now();
    starter.start(job, now);
    return now;
  }

  advanceCursor(job: string, tickMs: number, scope?: CursorScope): Promise<boolean> {
    return this.claims.advanceCursor(job, tickMs, scope);
  }

  takenElsewhere(job: string, tickMs: number, withinMs: number): Promise<boolean> {
    const { mirror } = this.opts;
    if (!mirror) return new Promise((resolve) => setTimeout(() => resolve(false), withinMs));
    return mirror.waitTakenElsewhere(this.claims.cursorKey(job), tickMs, withinMs);
  }

  async close(): Promise<void> {
    this.opts.starter?.stop();
  }
}
