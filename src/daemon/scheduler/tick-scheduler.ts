import type { Schedule } from '../schedule/types.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { KeyedHeap } from './keyed-heap.js';

/** Ticks of one job that came due at one wake-up, oldest first. */
export interface DueTicks {
  key: string;
  ticks: number[];
  /**
   * Set when more ticks passed than `maxTicksPerWake` (a long clock jump or
   * a daemon down for days): ticks after the last listed one up to this
   * instant were passed over without being listed.
   */
  overflowUntil: number | null;
}

export interface TickSchedulerOptions {
  onDue(due: DueTicks): void;
  clock?: Clock;
  /** Longest single sleep, so a wall-clock jump is noticed within this long. */
  maxSleepMs?: number;
  maxTicksPerWake?: number;
  /**
   * Hand ticks over this long before they are due (default 0). In a cluster
   * the claim, an etcd round trip, is then made ahead of the tick, and the
   * job starts at the tick itself instead of a round trip after it.
   */
  leadMs?: number;
  /** A job's next tick changed (null: it has none now). For live views; must be cheap. */
  onNext?(key: string, due: number | null): void;
}

interface Entry {
  key: string;
  due: number;
  /** Null for one-shot entries (`@delay` jobs re-armed after each run). */
  schedule: Schedule | null;
}

/**
 * Decides only *when*: sleeps until the earliest due tick of all jobs and
 * hands due ticks to `onDue`. One timer for all jobs; no per-second polling.
 */
export class TickScheduler {
  private readonly heap = new KeyedHeap<string, Entry>();
  private readonly clock: Clock;
  private readonly maxSleepMs: number;
  private readonly maxTicksPerWake: number;
  private readonly leadMs: number;
  private timer: TimerHandle | null = null;
  private running = false;

  constructor(private readonly options: TickSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    this.maxSleepMs = options.maxSleepMs ?? 30_000;
    this.maxTicksPerWake = options.maxTicksPerWake ?? 1000;
    this.leadMs = options.leadMs ?? 0;
  }

  /** Schedule `key` from its first tick after `afterMs`; replaces any entry for it. */
  add(key: string, schedule: Schedule, afterMs: number): void {
    const due = schedule.next(afterMs);
    if (due === null) this.remove(key);
    else this.put({ key, due, schedule });
  }

  /** A single tick at `tickMs` (then the entry is gone until set again). */
  at(key: string, tickMs: number): void {
    this.put({ key, due: tickMs, schedule: null });
  }

  remove(key: string): void {
    if (!this.heap.delete(key)) return;
    this.options.onNext?.(key, null);
    this.rearmIfEarliestChanged();
  }

  nextTick(key: string): number | undefined {
    return this.heap.get(key)?.due;
  }

  get size(): number {
    return this.heap.size;
  }

  start(): void {
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
  }

  private put(entry: Entry): void {
    this.heap.set(entry);
    this.options.onNext?.(entry.key, entry.due);
    this.rearmIfEarliestChanged();
  }

  private rearmIfEarliestChanged(): void {
    if (this.running) this.arm();
  }

  private arm(): void {
    this.timer?.cancel();
    const top = this.heap.peek();
    const delay = top === undefined ? this.maxSleepMs : Math.min(top.due - this.leadMs - this.clock.now(), this.maxSleepMs);
    // ceil: a timer may fire up to a millisecond early, before the tick is due.
    this.timer = this.clock.setTimer(() => this.wake(), Math.max(0, Math.ceil(delay)));
  }

  private wake(): void {
    this.timer = null;
    if (!this.running) return;
    // Ticks up to `horizon` are handed over now; those after `now` are not due yet (see leadMs).
    const horizon = this.clock.now() + this.leadMs;
    for (let top = this.heap.peek(); top !== undefined && top.due <= horizon; top = this.heap.peek()) {
      const due = this.collectDue(top, horizon);
      this.options.onDue(due);
    }
    if (this.running) this.arm();
  }

  /** Lists the entry's ticks up to `now` and moves the entry to its next tick. */
  private collectDue(entry: Entry, now: number): DueTicks {
    const ticks = [entry.due];
    let next = entry.schedule?.next(entry.due) ?? null;
    while (next !== null && next <= now && ticks.length < this.maxTicksPerWake) {
      ticks.push(next);
      next = entry.schedule!.next(next);
    }
    let overflowUntil: number | null = null;
    if (next !== null && next <= now) {
      overflowUntil = now;
      next = entry.schedule!.next(now);
    }
    if (next === null) this.heap.delete(entry.key);
    else this.heap.set({ ...entry, due: next });
    this.options.onNext?.(entry.key, next);
    return { key: entry.key, ticks, overflowUntil };
  }
}
