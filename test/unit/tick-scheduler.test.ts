import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TickScheduler, type DueTicks } from '../../src/daemon/scheduler/tick-scheduler.js';
import { KeyedHeap } from '../../src/daemon/scheduler/keyed-heap.js';
import type { Schedule } from '../../src/daemon/schedule/types.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Fixed-rate ticks aligned to the epoch: enough schedule for the timing loop. */
const every = (ms: number): Schedule => ({ next: (after) => Math.floor(after / ms) * ms + ms });
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

function harness(opts: { maxSleepMs?: number; maxTicksPerWake?: number } = {}) {
  const clock = new FakeClock(T0);
  const seen: DueTicks[] = [];
  const scheduler = new TickScheduler({ clock, onDue: (d) => seen.push(d), ...opts });
  return { clock, seen, scheduler };
}

test('delivers every tick of every job exactly once, in order', () => {
  const { clock, seen, scheduler } = harness();
  scheduler.add('a', every(1000), T0);
  scheduler.add('b', every(1500), T0);
  scheduler.start();
  clock.advance(6000);
  const ticksOf = (k: string) => seen.filter((d) => d.key === k).flatMap((d) => d.ticks);
  assert.deepEqual(ticksOf('a'), [1, 2, 3, 4, 5, 6].map((s) => T0 + s * 1000));
  assert.deepEqual(ticksOf('b'), [1500, 3000, 4500, 6000].map((ms) => T0 + ms));
  assert.ok(seen.every((d) => d.ticks.length === 1 && d.overflowUntil === null));
});

test('with a lead, each tick is handed over that long before it is due, once, in order', () => {
  const clock = new FakeClock(T0);
  const handed: Array<{ ticks: number[]; atMs: number }> = [];
  const scheduler = new TickScheduler({ clock, leadMs: 100, onDue: (d) => handed.push({ ticks: d.ticks, atMs: clock.now() }) });
  scheduler.add('a', every(1000), T0);
  scheduler.start();
  clock.advance(3000);
  assert.deepEqual(handed, [1, 2, 3].map((s) => ({ ticks: [T0 + s * 1000], atMs: T0 + s * 1000 - 100 })));
});

test('never sleeps longer than the cap, so clock jumps are noticed', () => {
  const { clock, scheduler } = harness({ maxSleepMs: 30_000 });
  scheduler.add('hourly', every(3_600_000), T0);
  scheduler.start();
  clock.advance(120_000);
  assert.ok(clock.requestedDelays.every((d) => d <= 30_000), `delays: ${clock.requestedDelays}`);
});

test('a forward clock jump hands all passed ticks to onDue in one batch', () => {
  const { clock, seen, scheduler } = harness();
  scheduler.add('a', every(1000), T0);
  scheduler.start();
  clock.jump(T0 + 10_500);
  // The pending 1 s timer runs on monotonic time: it wakes 1 s after it was set,
  // when the wall clock reads T0 + 11.5 s, and finds eleven ticks passed.
  clock.advance(30_000);
  const first = seen[0];
  assert.equal(first.key, 'a');
  assert.deepEqual(first.ticks, Array.from({ length: 11 }, (_, i) => T0 + (i + 1) * 1000));
});

test('a backward clock jump delivers no tick twice', () => {
  const { clock, seen, scheduler } = harness();
  scheduler.add('a', every(1000), T0);
  scheduler.start();
  clock.advance(5000);
  clock.jump(T0 + 2000);
  clock.advance(5000);
  const ticks = seen.flatMap((d) => d.ticks);
  assert.equal(new Set(ticks).size, ticks.length);
  assert.deepEqual(ticks, [1, 2, 3, 4, 5, 6, 7].map((s) => T0 + s * 1000));
});

test('caps the ticks listed per wake and reports the overflow', () => {
  const { clock, seen, scheduler } = harness({ maxTicksPerWake: 5 });
  scheduler.add('a', every(1000), T0);
  scheduler.start();
  clock.jump(T0 + 100_000);
  clock.advance(30_000); // wakes at T0 + 101 s (the pending 1 s timer)
  assert.equal(seen[0].ticks.length, 5);
  assert.equal(seen[0].overflowUntil, T0 + 101_000);
  assert.equal(seen[1].ticks[0], T0 + 102_000, 'resumes after the overflow instant');
});

test('one-shot entries fire once; removed jobs stop firing', () => {
  const { clock, seen, scheduler } = harness();
  scheduler.at('delay', T0 + 2500);
  scheduler.add('gone', every(1000), T0);
  scheduler.start();
  clock.advance(1000);
  scheduler.remove('gone');
  clock.advance(10_000);
  assert.deepEqual(seen.map((d) => d.key), ['gone', 'delay']);
  assert.equal(scheduler.size, 0);
});

test('jobs can be added and removed from inside onDue', () => {
  const clock = new FakeClock(T0);
  const keys: string[] = [];
  const scheduler: TickScheduler = new TickScheduler({
    clock,
    onDue: (d) => {
      keys.push(d.key);
      if (d.key === 'a') {
        scheduler.remove('a');
        scheduler.at('b', d.ticks[0] + 100);
      }
    },
  });
  scheduler.add('a', every(1000), T0);
  scheduler.start();
  clock.advance(3000);
  assert.deepEqual(keys, ['a', 'b']);
});

test('holds 100,000 jobs with one timer and keeps the earliest on top', () => {
  const { clock, seen, scheduler } = harness();
  for (let i = 0; i < 100_000; i++) scheduler.at(`job-${i}`, T0 + 1000 + ((i * 7919) % 60_000));
  scheduler.start();
  assert.equal(clock.pendingTimers(), 1);
  clock.advance(61_000);
  assert.equal(seen.length, 100_000);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].ticks[0] <= seen[i].ticks[0]);
});

test('keyed heap: update and delete keep the heap ordered', () => {
  const heap = new KeyedHeap<number, { key: number; due: number }>();
  const due = new Map<number, number>();
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 2000; i++) {
    const key = rand() % 300;
    if (rand() % 4 === 0) {
      heap.delete(key);
      due.delete(key);
    } else {
      const d = rand() % 10_000;
      heap.set({ key, due: d });
      due.set(key, d);
    }
  }
  const order: number[] = [];
  for (let e = heap.pop(); e; e = heap.pop()) order.push(e.due);
  assert.deepEqual(order, [...due.values()].sort((a, b) => a - b));
});
