/**
 * Who runs a tick. The scheduler and executor talk only to this interface; the
 * embedded single-host store and the etcd cluster store implement it.
 */
export interface Claim {
  /** Fencing token: strictly increasing per job. Becomes DCRON_FENCE. */
  fence: number;
}

export interface Coordinator {
  /**
   * Claim `tickMs` of `job`. Succeeds only when the tick is later than the
   * job's cursor (the last tick claimed), and moves the cursor to it, so a
   * tick can never be claimed twice. Null when it was already claimed.
   */
  claimTick(job: string, tickMs: number): Promise<Claim | null>;
  /** A fresh fence for a run that is not a new tick (manual run, retry). */
  nextFence(job: string): Promise<number>;
  /** The job's cursor: last tick claimed or passed over; null if never. */
  cursor(job: string): Promise<number | null>;
  /** Move the cursor forward to `tickMs` without running (missed ticks, new jobs). No-op if not later. */
  advanceCursor(job: string, tickMs: number): Promise<void>;
  close(): Promise<void>;
}
