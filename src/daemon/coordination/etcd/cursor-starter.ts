/**
 * Writes the cursors of jobs seen for the first time, in the background:
 * a job with no cursor starts from now, and its cursor records that (so a
 * tick due while every daemon was down is caught up or recorded missed on
 * the next start), but 100,000 new jobs must not mean 100,000 round trips
 * before the daemon runs anything. The writes go out in batches through a
 * TxnBatcher of their own, so they never queue ahead of tick claims, and
 * only a bounded number are in flight.
 */
import type { Logger } from '../../log.js';
import type { TickClaims } from './tick-claims.js';
import type { TxnBatcher } from './txn-batcher.js';

/** Creations asked of the batcher at once: enough for full requests, few enough to keep memory flat. */
const IN_FLIGHT = 512;

export class CursorStarter {
  private queue: Array<{ job: string; tickMs: number }> = [];
  /** Next entry of `queue` to write: shift() on 100,000 entries is quadratic. */
  private head = 0;
  /** Jobs queued or in flight, so a job scheduled twice before its cursor is seen is written once. */
  private readonly pending = new Set<string>();
  private inFlight = 0;
  /** Open hold() calls: while any is, writes wait. */
  private holds = 0;
  private stopped = false;
  private idle: Array<() => void> = [];
  /** Cursors this starter created (the others already existed). */
  created = 0;

  constructor(private readonly claims: TickClaims, private readonly batcher: TxnBatcher, private readonly log: Logger) {}

  /** Creates the job's cursor at `tickMs` unless it exists by the time the write lands. */
  start(job: string, tickMs: number): void {
    if (this.stopped || this.pending.has(job)) return;
    this.pending.add(job);
    this.queue.push({ job, tickMs });
    this.pump();
  }

  /**
   * Queues writes without sending them until the returned release is
   * called: scheduling 100,000 new jobs at boot goes faster without their
   * cursor writes and the watch events they echo back competing for the
   * event loop, and the writes are in the background anyway.
   */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.pump();
    };
  }

  /** Resolves once everything asked for so far has been written (or has failed). */
  settled(): Promise<void> {
    return this.pending.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /** Drops what is not written yet: those jobs start from now again on the next start, as if new. */
  stop(): void {
    this.stopped = true;
    for (const { job } of this.queue.slice(this.head)) this.pending.delete(job);
    this.queue = [];
    this.head = 0;
    this.wakeIfIdle();
  }

  private pump(): void {
    while (this.holds === 0 && this.inFlight < IN_FLIGHT && this.head < this.queue.length) {
      const { job, tickMs } = this.queue[this.head++];
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      this.inFlight++;
      this.claims
        .createCursor(job, tickMs, this.batcher)
        .then((created) => {
          if (created) this.created++;
        })
        .catch((err: unknown) => this.log.debug('could not write the cursor of a new job; it starts from now again next time', { job, err }))
        .finally(() => {
          this.inFlight--;
          this.pending.delete(job);
          this.pump();
          this.wakeIfIdle();
        });
    }
  }

  private wakeIfIdle(): void {
    if (this.pending.size > 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const wake of idle) wake();
  }
}
