import { EventEmitter } from 'node:events';
import type { Clock } from '../scheduler/clock.js';

/** Slots held (released once the executor has the run, which counts them itself), or why there were none. */
export type SlotHold = { ok: true; release: () => void } | { ok: false; why: string };

/**
 * This host's slots (`dcron daemon --slots N`): what the runs here take (a
 * job's `slots=K`, 1 by default) plus what ticks being claimed right now
 * hold, so two ticks claimed in the same instant cannot both take the last
 * slot. What runs is read from the executor each time rather than counted
 * here, so a run that ends by any path (exit, kill, a queue dropped) frees
 * its slots without a release that could be missed.
 */
export class HostCapacity extends EventEmitter<{ freed: [] }> {
  private held = 0;

  constructor(
    /** 0: no limit. */
    readonly total: number,
    private readonly inUse: () => number,
  ) {
    super();
    this.setMaxListeners(0);
  }

  get limited(): boolean {
    return this.total > 0;
  }

  used(): number {
    return this.inUse() + this.held;
  }

  fits(slots: number): boolean {
    return !this.limited || this.used() + slots <= this.total;
  }

  /** Holds the slots while a tick is claimed; the release is idempotent. Null when they do not fit. */
  tryHold(slots: number): (() => void) | null {
    if (!this.fits(slots)) return null;
    this.held += slots;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= slots;
      this.emit('freed');
    };
  }

  /**
   * tryHold for a run outside the tick pipeline (a failover rerun, a moved retry), which
   * either takes its slots now or does not run: why not, in the words of a
   * skipped record.
   */
  hold(slots: number): SlotHold {
    const release = this.tryHold(slots);
    return release ? { ok: true, release } : { ok: false, why: `no free slot on this host: ${this.used()} of its ${this.total} slots in use, the job needs ${slots}` };
  }

  /** A run ended here: waiters look again. */
  runEnded(): void {
    if (this.limited) this.emit('freed');
  }

  /** Resolves true once `slots` fit, false when `withinMs` passes first. */
  waitForRoom(slots: number, withinMs: number, clock: Pick<Clock, 'setTimer'>): Promise<boolean> {
    if (this.fits(slots)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (fits: boolean) => {
        this.off('freed', check);
        timer.cancel();
        resolve(fits);
      };
      const check = () => {
        if (this.fits(slots)) done(true);
      };
      const timer = clock.setTimer(() => done(this.fits(slots)), Math.max(0, withinMs));
      this.on('freed', check);
    });
  }
}
