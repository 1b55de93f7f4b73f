import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planDueTicks, type DueInput } from '../../src/daemon/scheduler/due-plan.js';
import type { Schedule } from '../../src/daemon/schedule/types.js';

const every = (ms: number): Schedule => ({ next: (after) => Math.floor(after / ms) * ms + ms });
const T = Date.UTC(2026, 5, 1);
const base: DueInput = { ticks: [], overflowUntil: null, nowMs: T, daemonStartMs: T - 3_600_000, catchupMs: 0, lateGraceMs: 5000, schedule: every(1000) };

test('ticks on time or slightly late while the daemon runs all run', () => {
  const plan = planDueTicks({ ...base, ticks: [T - 3000, T - 2000, T], nowMs: T + 100 });
  assert.deepEqual(plan.run, [T - 3000, T - 2000, T].map((tickMs) => ({ tickMs, trigger: 'schedule' })));
  assert.deepEqual(plan.missed, []);
});

test('ticks from before the daemon started are missed without a catchup window', () => {
  const plan = planDueTicks({ ...base, daemonStartMs: T, ticks: [T - 2000, T - 1000], nowMs: T + 50 });
  assert.deepEqual(plan.run, []);
  assert.deepEqual(plan.missed, [T - 2000, T - 1000]);
});

test('only the latest missed tick inside the catchup window runs, once', () => {
  const plan = planDueTicks({ ...base, daemonStartMs: T, catchupMs: 60_000, ticks: [T - 120_000, T - 30_000, T - 20_000], nowMs: T + 10 });
  assert.deepEqual(plan.run, [{ tickMs: T - 20_000, trigger: 'catchup' }]);
  assert.deepEqual(plan.missed, [T - 120_000, T - 30_000]);
});

test('a forward clock jump: old ticks missed, the recent ones run', () => {
  const ticks = Array.from({ length: 20 }, (_, i) => T - 19_000 + i * 1000);
  const plan = planDueTicks({ ...base, ticks, nowMs: T });
  assert.equal(plan.missed.length, 14);
  assert.deepEqual(plan.run.map((r) => r.tickMs), ticks.slice(14));
});

test('with more ticks than listed, the catchup tick is found among the unlisted newest', () => {
  const listed = [T - 86_400_000, T - 86_399_000];
  const plan = planDueTicks({ ...base, daemonStartMs: T + 1, ticks: listed, overflowUntil: T, nowMs: T + 1, catchupMs: 2500 });
  assert.deepEqual(plan.run, [{ tickMs: T, trigger: 'catchup' }]);
  assert.deepEqual(plan.unlisted, { afterMs: T - 86_399_000, untilMs: T - 4000 });
  assert.ok(plan.missed.includes(T - 1000) && plan.missed.includes(T - 86_400_000));
});
