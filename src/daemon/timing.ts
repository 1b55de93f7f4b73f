/** Small timing helpers the daemon's parts share. */

/**
 * Waits for `work` to settle, but no longer than `ms`: for steps that wait on
 * etcd and must never hold up what comes after (stopping, cancelling a
 * watch). Resolves true if `work` settled in time; a rejection counts as settled.
 */
export async function boundedWait(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([work.then(() => true as const, () => true as const), timedOut]);
  clearTimeout(timer);
  return settled;
}

/** A retry pause that stop() can cut short, so a closing component does not wait out its backoff. */
export class WakeableDelay {
  private pending: { timer: NodeJS.Timeout; resolve: () => void } | null = null;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.end(), ms);
      this.pending = { timer, resolve };
    });
  }

  /** Ends the current pause now, if there is one. */
  wake(): void {
    this.end();
  }

  private end(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve();
  }
}

export interface UntilAnsweredOptions {
  sleep: (ms: number) => Promise<void>;
  /** After a failure, give up quietly once this is true (the daemon is stopping). */
  stopped: () => boolean;
  /** Told of the first failure only: one log line per give-back, not one per attempt. */
  onFirstError: (err: unknown) => void;
}

/**
 * Retries `work` until the store answers, backing off 100 ms doubling to
 * 1 s: for giving back what a run held (a busy mark, a group permit), which
 * left behind would outlive the run for as long as this node's lease.
 */
export async function untilAnswered(work: () => Promise<unknown>, opts: UntilAnsweredOptions): Promise<void> {
  // Tried once even when stopping: a run that ends while the daemon drains still gives back what it held.
  for (let attempt = 0; ; attempt++) {
    try {
      await work();
      return;
    } catch (err) {
      if (opts.stopped()) return;
      if (attempt === 0) opts.onFirstError(err);
      await opts.sleep(Math.min(100 * 2 ** attempt, 1000));
    }
  }
}
