import type { ClaimOutcome, ClaimRequest, Coordinator, CursorScope } from '../coordinator.js';
import type { TickClaims } from './tick-claims.js';

/**
 * The daemon's Coordinator on an etcd cluster. Cursors, fences and busy marks
 * live in etcd, so every host sees the same ones.
 */
export class EtcdCoordinator implements Coordinator {
  /** The client and lease behind `claims` are shared (node registry, job list), so whoever wired them closes them. */
  constructor(private readonly claims: TickClaims) {}

  claim(request: ClaimRequest): Promise<ClaimOutcome> {
    return this.claims.claim(request);
  }

  async releaseBusy(job: string, fence: number): Promise<void> {
    await this.claims.releaseBusy(job, fence);
  }

  nextFence(job: string): Promise<number> {
    return this.claims.nextFence(job);
  }

  cursor(job: string, scope?: CursorScope): Promise<number | null> {
    return this.claims.cursor(job, scope);
  }

  advanceCursor(job: string, tickMs: number, scope?: CursorScope): Promise<boolean> {
    return this.claims.advanceCursor(job, tickMs, scope);
  }

  async close(): Promise<void> {
    // Nothing of its own to release: see the constructor.
  }
}
