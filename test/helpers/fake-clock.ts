import type { Clock, TimerHandle } from '../../src/daemon/scheduler/clock.js';

/** A clock that moves only when told to; timers fire as time passes them. */
export class FakeClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  /** Every delay a timer was set with, to check sleeps are capped. */
  readonly requestedDelays: number[] = [];

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const id = ++this.seq;
    this.requestedDelays.push(delayMs);
    this.timers.push({ at: this.current + delayMs, fn, id });
    return { cancel: () => (this.timers = this.timers.filter((t) => t.id !== id)) };
  }

  /** Advance time in timer-sized steps, firing each timer at its instant. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t.id !== next.id);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = end;
  }

  /** Set the wall clock without firing anything, as NTP or a suspended laptop would. */
  jump(toMs: number): void {
    const delta = toMs - this.current;
    this.current = toMs;
    // Pending timers run on a monotonic clock: they still fire after their delay.
    for (const t of this.timers) t.at += delta;
  }

  pendingTimers(): number {
    return this.timers.length;
  }
}
