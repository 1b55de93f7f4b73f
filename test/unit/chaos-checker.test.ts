import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, type CheckInput, type RecordedRun } from '../../chaos/checker.js';
import { checkConcurrency, runSpans, sweep } from '../../chaos/concurrency.js';
import { parseLedger, type LedgerEntry } from '../../chaos/ledger.js';
import type { WorkloadJob } from '../../chaos/workload.js';

const every = (name: string, more: Partial<WorkloadJob> = {}): WorkloadJob => ({ name, periodS: 1, runS: 0, overlap: 'skip', mode: 'one', failover: false, ...more });
const T0 = 1_800_000_000_000;

/** Start and end lines of one run, as the chaos job script writes them. */
function ran(job: string, tick: number, host: string, fence: number, opts: { trigger?: string; ended?: boolean } = {}): LedgerEntry[] {
  const base = { job, tickMs: T0 + tick * 1000, host, fence, attempt: 1, trigger: opts.trigger ?? 'schedule' };
  return [{ kind: 'start', ...base }, ...(opts.ended === false ? [] : [{ kind: 'end' as const, ...base }])];
}

function input(jobs: WorkloadJob[], ledger: LedgerEntry[], more: Partial<CheckInput> = {}): CheckInput {
  return { jobs, fromMs: T0, toMs: T0 + 2000, hosts: ['a', 'b'], ledger, records: [], faults: [], ...more };
}

test('the ledger parser reads the job script lines and names a bad one', () => {
  assert.deepEqual(parseLedger('start j 1000 a 7 1 schedule\n'), [{ kind: 'start', job: 'j', tickMs: 1000, host: 'a', fence: 7, attempt: 1, trigger: 'schedule' }]);
  assert.throws(() => parseLedger('start j 1000\n', 'L'), /L:1: not a ledger line/);
});

test('every tick once with growing fences passes', () => {
  const r = check(input([every('j')], [...ran('j', 0, 'a', 1), ...ran('j', 1, 'b', 2), ...ran('j', 2, 'a', 3)]));
  assert.equal(r.ok, true);
  assert.deepEqual([r.due, r.ranOnce, r.duplicated, r.unrecorded], [3, 3, 0, 0]);
});

test('a tick run on two hosts is a duplicate', () => {
  const r = check(input([every('j')], [...ran('j', 0, 'a', 1), ...ran('j', 0, 'b', 2), ...ran('j', 1, 'a', 3), ...ran('j', 2, 'a', 4)]));
  assert.equal(r.ok, false);
  assert.equal(r.duplicated, 1);
});

test('a tick nobody ran is unrecorded unless a host recorded it missed or skipped', () => {
  const ledger = [...ran('j', 0, 'a', 1), ...ran('j', 2, 'a', 3)];
  assert.equal(check(input([every('j')], ledger)).unrecorded, 1);
  const missed: RecordedRun[] = [{ job: 'j', tickMs: T0 + 1000, host: 'b', status: 'missed', trigger: 'schedule' }];
  const r = check(input([every('j')], ledger, { records: missed }));
  assert.deepEqual([r.ok, r.unrecorded, r.missedRecorded, r.notRunOutsideFaults], [true, 0, 1, 1]);
  const inFault = check(input([every('j')], ledger, { records: missed, faults: [{ what: 'x', startMs: T0, endMs: T0 + 1500 }] }));
  assert.equal(inFault.notRunOutsideFaults, 0);
});

test('mode=all expects each tick once per host', () => {
  const wide = every('w', { mode: 'all' });
  const ledger = [0, 1, 2].flatMap((t) => [...ran('w', t, 'a', 10 + t), ...ran('w', t, 'b', 20 + t)]);
  assert.equal(check(input([wide], ledger)).ok, true);
  const r = check(input([wide], ledger.filter((e) => !(e.host === 'b' && e.tickMs === T0 + 1000))));
  assert.equal(r.unrecorded, 1);
  assert.equal(r.violations[0].host, 'b');
});

test('an overlap line is a violation', () => {
  const overlap: LedgerEntry = { kind: 'overlap', job: 'j', tickMs: T0, host: 'a', fence: 1, attempt: 1, trigger: 'schedule' };
  const r = check(input([every('j')], [...ran('j', 0, 'a', 1), overlap, ...ran('j', 1, 'a', 2), ...ran('j', 2, 'a', 3)]));
  assert.deepEqual([r.ok, r.overlaps], [false, 1]);
});

test('fences must grow with ticks', () => {
  const r = check(input([every('j')], [...ran('j', 0, 'a', 5), ...ran('j', 1, 'b', 4), ...ran('j', 2, 'a', 6)]));
  assert.deepEqual([r.ok, r.fenceViolations], [false, 1]);
});

test('failover=rerun may rerun a tick whose first run died, or finished unreported on a faulted host; never one that finished on a healthy host', () => {
  const job = every('f', { failover: true, periodS: 3 });
  const one = { fromMs: T0, toMs: T0 };
  const died = check(input([job], [...ran('f', 0, 'a', 1, { ended: false }), ...ran('f', 0, 'b', 9, { trigger: 'failover' })], one));
  assert.deepEqual([died.ok, died.rerun], [true, 1]);
  const finished = [...ran('f', 0, 'a', 1), ...ran('f', 0, 'b', 9, { trigger: 'failover' })];
  const healthy = check(input([job], finished, one));
  assert.deepEqual([healthy.ok, healthy.duplicated], [false, 1]);
  const faulted = check(input([job], finished, { ...one, faults: [{ what: 'SIGSTOP a', startMs: T0, endMs: T0 + 6000, hosts: ['a'] }] }));
  assert.deepEqual([faulted.ok, faulted.rerunAfterFinish], [true, 1]);
  const otherHost = check(input([job], finished, { ...one, faults: [{ what: 'SIGSTOP b', startMs: T0, endMs: T0 + 6000, hosts: ['b'] }] }));
  assert.equal(otherHost.ok, false);
});

test('a run of a tick off the schedule is a violation', () => {
  const r = check(input([every('j', { periodS: 2 })], [...ran('j', 0, 'a', 1), ...ran('j', 1, 'a', 2), ...ran('j', 2, 'a', 3)]));
  assert.equal(r.ok, false);
  assert.ok(r.violations.some((v) => v.kind === 'unscheduled'));
});

test('a mode=all tick is due on a skewed host only while its own clock was in the window', () => {
  const wide = every('w', { mode: 'all' });
  // Host b runs 1 s behind: it never reached the window's last tick before the daemons stopped.
  const ledger = [0, 1, 2].flatMap((t) => ran('w', t, 'a', 10 + t)).concat([0, 1].flatMap((t) => ran('w', t, 'b', 20 + t)));
  assert.equal(check(input([wide], ledger)).unrecorded, 1);
  const r = check(input([wide], ledger, { clockOffsetsMs: { b: -1000 } }));
  assert.deepEqual([r.ok, r.due], [true, 5]);
});

test('with a host running ahead, ticks before the window start plus its lead are not judged (a new job starts from its clock)', () => {
  const r = check(input([every('j')], [...ran('j', 1, 'a', 2), ...ran('j', 2, 'a', 3)], { clockOffsetsMs: { a: 1000 } }));
  assert.deepEqual([r.ok, r.due], [true, 2]);
});

// Sharded and dependent jobs: the ledger lines carry the shard, the parent tick and the wall clock.

const sharded = (name: string, shards: number, more: Partial<WorkloadJob> = {}) => every(name, { shards, ...more });
const child = (name: string, after: string, more: Partial<WorkloadJob> = {}) => every(name, { after, ...more });

/** One shard's run: start at the tick plus `startMs`, end `runMs` later (never, with ended: false). */
function shardRan(job: string, tick: number, shard: number, shards: number, host: string, fence: number, opts: { trigger?: string; ended?: boolean; startMs?: number; runMs?: number } = {}): LedgerEntry[] {
  const tickMs = T0 + tick * 1000;
  const start = tickMs + (opts.startMs ?? 0);
  const base = { job, tickMs, host, fence, attempt: 1, trigger: opts.trigger ?? 'schedule', shard, shards, parentTick: null };
  return [{ kind: 'start', ...base, atMs: start }, ...(opts.ended === false ? [] : [{ kind: 'end' as const, ...base, atMs: start + (opts.runMs ?? 500) }])];
}

/** Every shard of a tick, shard i on hosts[i % hosts.length], fences from `fence` up. */
function tickRan(job: string, tick: number, shards: number, fence: number, hosts = ['a', 'b']): LedgerEntry[] {
  return Array.from({ length: shards }, (_, i) => shardRan(job, tick, i, shards, hosts[i % hosts.length], fence + i)).flat();
}

/** A dependent run: DCRON_TICK_MS is the parent's tick, DCRON_PARENT_TICK the same instant, started `startMs` after it. */
function childRan(job: string, tick: number, host: string, fence: number, startMs: number, opts: { trigger?: string; ended?: boolean; parentTick?: string | null } = {}): LedgerEntry[] {
  const tickMs = T0 + tick * 1000;
  const trigger = opts.trigger ?? 'dependency';
  const parentTick = opts.parentTick !== undefined ? opts.parentTick : trigger === 'dependency' ? new Date(tickMs).toISOString().replace('Z', '+00:00') : null;
  const base = { job, tickMs, host, fence, attempt: 1, trigger, shard: null, shards: null, parentTick };
  return [{ kind: 'start', ...base, atMs: tickMs + startMs }, ...(opts.ended === false ? [] : [{ kind: 'end' as const, ...base, atMs: tickMs + startMs + 100 }])];
}

test('the ledger parser reads the shard, parent tick and clock fields, `-` for none', () => {
  const [s, c] = parseLedger('start p 1000 a 7 1 schedule 3 8 - 1500\nstart c 1000 b 9 1 dependency - - 1970-01-01T00:00:01+00:00 1700\n');
  assert.deepEqual([s.shard, s.shards, s.parentTick, s.atMs], [3, 8, null, 1500]);
  assert.deepEqual([c.shard, c.shards, c.parentTick, c.atMs], [null, null, '1970-01-01T00:00:01+00:00', 1700]);
  assert.throws(() => parseLedger('start p 1000 a 7 1 schedule x 8 - 1500\n', 'L'), /L:1/);
});

test('a sharded job is judged per shard: every shard of every tick once passes', () => {
  const ledger = [0, 1, 2].flatMap((t) => tickRan('p', t, 4, 10 * (t + 1)));
  const r = check(input([sharded('p', 4)], ledger));
  assert.equal(r.ok, true, JSON.stringify(r.violations));
  assert.deepEqual([r.due, r.ranOnce], [12, 12]);
});

test('a shard nobody ran is unrecorded, naming the shard, unless a host recorded that shard missed', () => {
  const ledger = [0, 1, 2].flatMap((t) => tickRan('p', t, 4, 10 * (t + 1))).filter((e) => !(e.tickMs === T0 + 1000 && e.shard === 2));
  const r = check(input([sharded('p', 4)], ledger));
  assert.deepEqual([r.ok, r.unrecorded, r.violations[0]?.shard], [false, 1, 2]);
  // A record of another shard of that tick excuses nothing.
  const other: RecordedRun = { job: 'p', tickMs: T0 + 1000, host: 'a', status: 'missed', trigger: 'schedule', shard: 1 };
  assert.equal(check(input([sharded('p', 4)], ledger, { records: [other] })).unrecorded, 1);
  const missed = check(input([sharded('p', 4)], ledger, { records: [{ ...other, shard: 2 }] }));
  assert.deepEqual([missed.ok, missed.missedRecorded], [true, 1]);
});

test('a shard run on two hosts is a duplicate; the same tick of two shards is not', () => {
  const twice = [...tickRan('p', 0, 2, 1), ...shardRan('p', 0, 1, 2, 'a', 5)];
  const r = check(input([sharded('p', 2)], twice, { toMs: T0 }));
  assert.deepEqual([r.ok, r.duplicated, r.violations[0].shard], [false, 1, 1]);
  const rerun = check(input([sharded('p', 2, { failover: true })], [...shardRan('p', 0, 0, 2, 'a', 1, { ended: false }), ...shardRan('p', 0, 0, 2, 'b', 7, { trigger: 'failover' }), ...shardRan('p', 0, 1, 2, 'b', 2)], { toMs: T0 }));
  assert.deepEqual([rerun.ok, rerun.rerun], [true, 1]);
});

test('fences grow per shard (each shard has its own cursor), not across shards', () => {
  // Shard 1's fences interleave with shard 0's: fine. Shard 0's going back is not.
  const ok = [...shardRan('p', 0, 0, 2, 'a', 5), ...shardRan('p', 0, 1, 2, 'b', 2), ...shardRan('p', 1, 0, 2, 'a', 6), ...shardRan('p', 1, 1, 2, 'b', 3)];
  assert.equal(check(input([sharded('p', 2)], ok, { toMs: T0 + 1000 })).ok, true);
  const back = [...shardRan('p', 0, 0, 2, 'a', 5), ...shardRan('p', 0, 1, 2, 'b', 2), ...shardRan('p', 1, 0, 2, 'a', 4), ...shardRan('p', 1, 1, 2, 'b', 3)];
  const r = check(input([sharded('p', 2)], back, { toMs: T0 + 1000 }));
  assert.deepEqual([r.ok, r.fenceViolations], [false, 1]);
});

test('a run whose DCRON_SHARD or DCRON_SHARDS disagrees with the job is a violation', () => {
  const r = check(input([sharded('p', 2)], [...shardRan('p', 0, 0, 3, 'a', 1), ...shardRan('p', 0, 1, 2, 'b', 2)], { toMs: T0 }));
  assert.equal(r.ok, false);
  assert.ok(r.violations.some((v) => v.kind === 'shard'));
});

test('a child is due once per parent tick whose every shard ended, and must run for each', () => {
  const jobs = [sharded('p', 2), child('c', 'p')];
  const parents = [0, 1, 2].flatMap((t) => tickRan('p', t, 2, 10 * (t + 1)));
  const children = [0, 1, 2].flatMap((t) => childRan('c', t, 'b', 100 + t, 600));
  const r = check(input(jobs, [...parents, ...children]));
  assert.equal(r.ok, true, JSON.stringify(r.violations));
  assert.deepEqual(r.perJob.c, { due: 3, ran: 3, missed: 0, skipped: 0, noRoom: 0, notStarted: 0, unrecorded: 0, parentUnreported: 0 });
  const lost = check(input(jobs, [...parents, ...children.filter((e) => e.tickMs !== T0 + 1000)]));
  assert.deepEqual([lost.ok, lost.unrecorded, lost.violations[0].job, lost.violations[0].tickMs], [false, 1, 'c', T0 + 1000]);
  const recorded = check(input(jobs, [...parents, ...children.filter((e) => e.tickMs !== T0 + 1000)], { records: [{ job: 'c', tickMs: T0 + 1000, host: 'a', status: 'lost', trigger: 'dependency' }] }));
  assert.deepEqual([recorded.ok, recorded.recordedNotStarted], [true, 1]);
});

test('a parent tick with a shard that never ended (its host killed, failover=none) is not due for the child', () => {
  const jobs = [sharded('p', 2), child('c', 'p')];
  const ledger = [...tickRan('p', 0, 2, 1), ...childRan('c', 0, 'a', 50, 600), ...shardRan('p', 1, 0, 2, 'a', 3, { ended: false }), ...shardRan('p', 1, 1, 2, 'b', 4)];
  const r = check(input(jobs, ledger, { toMs: T0 + 1000 }));
  assert.equal(r.ok, true, JSON.stringify(r.violations));
  assert.equal(r.perJob.c.due, 1);
});

test("a missing child is excused when a shard of the parent's tick ran on a host a fault struck (its end may not have been reported)", () => {
  const jobs = [sharded('p', 2), child('c', 'p')];
  const ledger = tickRan('p', 0, 2, 1);
  const one = { toMs: T0 };
  assert.equal(check(input(jobs, ledger, one)).unrecorded, 1);
  const faulted = check(input(jobs, ledger, { ...one, faults: [{ what: 'kill -9 b', startMs: T0 + 400, endMs: T0 + 3400, hosts: ['b'] }] }));
  assert.deepEqual([faulted.ok, faulted.parentUnreported], [true, 1]);
  const elsewhere = check(input(jobs, ledger, { ...one, faults: [{ what: 'kill -9 c', startMs: T0 + 400, endMs: T0 + 3400, hosts: ['c'] }] }));
  assert.equal(elsewhere.ok, false);
});

test('a child that started before every shard of its parent tick ended is a violation, also for a shard that never ended', () => {
  const jobs = [sharded('p', 2), child('c', 'p')];
  const parents = [...shardRan('p', 0, 0, 2, 'a', 1, { runMs: 300 }), ...shardRan('p', 0, 1, 2, 'b', 2, { runMs: 800 })];
  const one = { toMs: T0 };
  assert.equal(check(input(jobs, [...parents, ...childRan('c', 0, 'a', 9, 801)], one)).ok, true);
  const early = check(input(jobs, [...parents, ...childRan('c', 0, 'a', 9, 500)], one));
  assert.deepEqual([early.ok, early.childEarly], [false, 1]);
  assert.match(early.violations.find((v) => v.kind === 'early')!.detail, /shards 1 had not/);
  const neverEnded = [...shardRan('p', 0, 0, 2, 'a', 1), ...shardRan('p', 0, 1, 2, 'b', 2, { ended: false })];
  const r = check(input(jobs, [...neverEnded, ...childRan('c', 0, 'a', 9, 2000)], one));
  assert.deepEqual([r.ok, r.childEarly], [false, 1]);
});

test('an unsharded parent: the child follows its one run', () => {
  const jobs = [every('p'), child('c', 'p')];
  const ledger = [...shardRan('p', 0, 0, 0, 'a', 1), ...childRan('c', 0, 'b', 5, 600)].map((e) => (e.job === 'p' ? { ...e, shard: null, shards: null } : e));
  const one = { toMs: T0 };
  assert.equal(check(input(jobs, ledger, one)).ok, true);
  const early = check(input(jobs, ledger.map((e) => (e.job === 'c' && e.kind === 'start' ? { ...e, atMs: T0 + 100 } : e)), one));
  assert.deepEqual([early.ok, early.childEarly], [false, 1]);
});

test('a child run twice for one parent tick is a duplicate; a failover rerun of one that died is not', () => {
  const jobs = [sharded('p', 2), child('c', 'p', { failover: true })];
  const parents = tickRan('p', 0, 2, 1);
  const one = { toMs: T0 };
  const twice = check(input(jobs, [...parents, ...childRan('c', 0, 'a', 9, 600), ...childRan('c', 0, 'b', 10, 900)], one));
  assert.deepEqual([twice.ok, twice.duplicated], [false, 1]);
  const rerun = check(input(jobs, [...parents, ...childRan('c', 0, 'a', 9, 600, { ended: false }), ...childRan('c', 0, 'b', 12, 4000, { trigger: 'failover' })], one));
  assert.deepEqual([rerun.ok, rerun.rerun], [true, 1]);
});

test("a child's DCRON_PARENT_TICK must name the tick it ran for; a child tick off the parent's schedule is a violation", () => {
  const jobs = [sharded('p', 2, { periodS: 2 }), child('c', 'p')];
  const parents = tickRan('p', 0, 2, 1);
  const one = { toMs: T0 };
  const wrong = check(input(jobs, [...parents, ...childRan('c', 0, 'a', 9, 600, { parentTick: '2027-01-01T00:00:00+00:00' })], one));
  assert.equal(wrong.ok, false);
  assert.ok(wrong.violations.some((v) => v.kind === 'parent-tick'));
  const off = check(input(jobs, [...parents, ...childRan('c', 0, 'a', 9, 600), ...childRan('c', 1, 'a', 10, 600)], one));
  assert.ok(off.violations.some((v) => v.kind === 'unscheduled' && v.job === 'c'));
});

// Slots and groups: from each run's start line to its end line, or its gone line when it was killed first.

/** One run's lines, at ms offsets from T0: its start, its end (none: killed first) and its watcher's gone line. */
function lived(job: string, host: string, fence: number, startMs: number, endMs: number | null, opts: { goneMs?: number | null; tick?: number; trigger?: string } = {}): LedgerEntry[] {
  const base = { job, tickMs: T0 + (opts.tick ?? 0) * 1000, host, fence, attempt: 1, trigger: opts.trigger ?? 'schedule', shard: null, shards: null, parentTick: null };
  const gone = opts.goneMs === undefined ? (endMs === null ? null : endMs + 2) : opts.goneMs;
  return [
    { kind: 'start', ...base, atMs: T0 + startMs },
    ...(endMs === null ? [] : [{ kind: 'end' as const, ...base, atMs: T0 + endMs }]),
    ...(gone === null ? [] : [{ kind: 'gone' as const, ...base, atMs: T0 + gone }]),
  ];
}

test('the ledger parser reads the gone line the watcher writes', () => {
  assert.equal(parseLedger('gone j 1000 a 7 1 schedule - - - 1500\n')[0].kind, 'gone');
});

test('slots: a host never over its --slots passes, an end and a start in the same millisecond do not overlap', () => {
  const jobs = [every('j'), every('k'), every('l')];
  // On a: j [0, 1000), k [500, 1000), l starts at 1000 as both end: two at most.
  const ledger = [...lived('j', 'a', 1, 0, 1000), ...lived('k', 'a', 2, 500, 1000), ...lived('l', 'a', 3, 1000, 1800)];
  const c = checkConcurrency({ jobs, ledger, slotsPerHost: 2, untilMs: T0 + 5000 });
  assert.deepEqual(c.over, []);
  assert.deepEqual(c.maxSlots.a, { inUse: 2, atMs: T0 + 500 });
  // One millisecond earlier, l overlaps both.
  const early = checkConcurrency({ jobs, ledger: [...lived('j', 'a', 1, 0, 1000), ...lived('k', 'a', 2, 500, 1000), ...lived('l', 'a', 3, 999, 1800)], slotsPerHost: 2, untilMs: T0 + 5000 });
  assert.equal(early.over.length, 1);
  assert.deepEqual([early.over[0].scope, early.over[0].atMs, early.over[0].peak, early.over[0].alive.map((s) => s.job)], ['a', T0 + 999, 3, ['j', 'k', 'l']]);
});

test('slots: a run takes its job\'s slots=, and hosts are counted apart', () => {
  const jobs = [every('fat', { slots: 2 }), every('j')];
  const apart = [...lived('fat', 'a', 1, 0, 1000), ...lived('j', 'b', 2, 100, 900)];
  assert.deepEqual(checkConcurrency({ jobs, ledger: apart, slotsPerHost: 2, untilMs: T0 + 5000 }).over, []);
  const together = [...lived('fat', 'a', 1, 0, 1000), ...lived('j', 'a', 2, 100, 900)];
  const c = checkConcurrency({ jobs, ledger: together, slotsPerHost: 2, untilMs: T0 + 5000 });
  assert.deepEqual(c.over.map((o) => [o.kind, o.scope, o.peak]), [['slots', 'a', 3]]);
  // Through check(): a violation naming the host, the runs and their slots.
  const r = check(input(jobs, together, { toMs: T0, slotsPerHost: 2 }));
  assert.deepEqual([r.ok, r.slotViolations, r.maxSlots.a.inUse], [false, 1, 3]);
  const v = r.violations.find((x) => x.kind === 'slots')!;
  assert.equal(v.job, 'j');
  assert.match(v.detail, /host a had 3 slots in use \(its --slots is 2\)/);
  assert.match(v.detail, /fat@\d+ on a fence 1 \(schedule, 2 slots\)/);
});

test('a group is counted across hosts, and only its own jobs', () => {
  const jobs = [every('g1', { group: 'etl' }), every('g2', { group: 'etl' }), every('g3', { group: 'etl' }), every('other')];
  const clean = [...lived('g1', 'a', 1, 0, 1000), ...lived('g2', 'b', 2, 200, 1200), ...lived('g3', 'c', 3, 1000, 2000), ...lived('other', 'c', 4, 0, 3000)];
  const ok = checkConcurrency({ jobs, ledger: clean, groups: { etl: 2 }, untilMs: T0 + 5000 });
  assert.deepEqual([ok.over, ok.maxGroup.etl.inUse], [[], 2]);
  const over = [...lived('g1', 'a', 1, 0, 1000), ...lived('g2', 'b', 2, 200, 1200), ...lived('g3', 'c', 3, 900, 2000)];
  const r = check(input(jobs, over, { toMs: T0, groups: { etl: 2 } }));
  assert.deepEqual([r.ok, r.groupViolations, r.maxGroup.etl.inUse], [false, 1, 3]);
  assert.match(r.violations.find((x) => x.kind === 'group')!.detail, /group etl had 3 runs alive \(its limit is 2\)/);
});

test("a skewed host's clock readings are put back by its offset before a group is judged", () => {
  const jobs = [every('g1', { group: 'etl' }), every('g2', { group: 'etl' })];
  // b runs 5 s ahead: its run at 5500..6500 by its clock was alive 500..1500, with a's.
  const ledger = [...lived('g1', 'a', 1, 0, 1000), ...lived('g2', 'b', 2, 5500, 6500)];
  assert.deepEqual(checkConcurrency({ jobs, ledger, groups: { etl: 1 }, untilMs: T0 + 9000 }).over, []);
  assert.equal(checkConcurrency({ jobs, ledger, groups: { etl: 1 }, clockOffsetsMs: { b: 5000 }, untilMs: T0 + 9000 }).over.length, 1);
});

test('a run killed before its end line lives until its gone line; one with neither, until the ledger was read', () => {
  const jobs = [every('j'), every('k')];
  // j killed at 800 (gone line), k starts at 1000 on the same host: one at a time.
  const killed = [...lived('j', 'a', 1, 0, null, { goneMs: 800 }), ...lived('k', 'a', 2, 1000, 1500)];
  const spans = runSpans(killed, T0 + 9000);
  assert.deepEqual(spans.map((s) => [s.job, s.endMs, s.endFrom]), [['j', T0 + 800, 'gone'], ['k', T0 + 1500, 'end']]);
  assert.deepEqual(checkConcurrency({ jobs, ledger: killed, slotsPerHost: 1, untilMs: T0 + 9000 }).over, []);
  // Its processes lived on past k's start: the gone line says so.
  const lingered = [...lived('j', 'a', 1, 0, null, { goneMs: 1200 }), ...lived('k', 'a', 2, 1000, 1500)];
  assert.equal(checkConcurrency({ jobs, ledger: lingered, slotsPerHost: 1, untilMs: T0 + 9000 }).over.length, 1);
  // No gone line either: alive to the end, so no run after it on the host is missed; counted apart.
  const unknown = [...lived('j', 'a', 1, 0, null, { goneMs: null }), ...lived('k', 'a', 2, 5000, 5500)];
  const c = checkConcurrency({ jobs, ledger: unknown, slotsPerHost: 1, untilMs: T0 + 9000 });
  assert.deepEqual([c.endUnknown, c.over.length], [1, 1]);
  const r = check(input(jobs, unknown, { toMs: T0, slotsPerHost: 1, ledgerReadMs: T0 + 9000 }));
  assert.equal(r.runsEndUnknown, 1);
  assert.match(r.violations.find((x) => x.kind === 'slots')!.detail, /unknown \(alive until the ledger was read\)/);
  // The end line, not the gone line, ends a run that wrote it.
  assert.deepEqual(runSpans(lived('j', 'a', 1, 0, 1000, { goneMs: 4000 }), T0 + 9000).map((s) => [s.endMs, s.endFrom]), [[T0 + 1000, 'end']]);
});

test('sweep: the most in use and one stretch per time over the limit', () => {
  const spans = runSpans([...lived('j', 'a', 1, 0, 1000), ...lived('k', 'a', 2, 100, 300), ...lived('l', 'a', 3, 200, 400), ...lived('m', 'a', 4, 600, 700), ...lived('n', 'a', 5, 650, 680)], T0 + 9000);
  const { peak, over } = sweep(spans, () => 1, 2);
  assert.deepEqual(peak, { inUse: 3, atMs: T0 + 200 });
  assert.deepEqual(over.map((o) => [o.atMs - T0, o.peak]), [[200, 3], [650, 3]]);
  // A run whose end line shares its start's millisecond takes no time.
  assert.deepEqual(sweep(runSpans([...lived('j', 'a', 1, 0, 0), ...lived('k', 'a', 2, 0, 10)], T0 + 9000), () => 1, 1).over, []);
});

test("a tick recorded skipped for want of room is its one outcome: accepted, not counted as a loss outside faults, and it must not also run", () => {
  const jobs = [every('j', { group: 'etl' })];
  const ledger = [...ran('j', 0, 'a', 1), ...ran('j', 2, 'a', 3)];
  const full: RecordedRun = { job: 'j', tickMs: T0 + 1000, host: 'b', status: 'skipped', trigger: 'schedule', message: 'group etl is full: no host could take a permit within the late grace (5000 ms); 2 of its 2 permits held' };
  const r = check(input(jobs, ledger, { records: [full] }));
  assert.deepEqual([r.ok, r.skippedRecorded, r.skippedNoRoom, r.skippedGroupFull, r.notRunOutsideFaults, r.perJob.j.noRoom], [true, 1, 1, 1, 0, 1]);
  const slot: RecordedRun = { ...full, message: 'no free slot on any host: no other host claimed it within the late grace (5000 ms); here, 4 of this host\'s 4 slots in use, the job needs 1' };
  const noSlot = check(input(jobs, ledger, { records: [slot] }));
  assert.deepEqual([noSlot.skippedNoRoom, noSlot.skippedNoSlot, noSlot.skippedGroupFull], [1, 1, 0]);
  // Another skip (overlap=skip's busy mark) is still counted outside faults.
  const busy = check(input(jobs, ledger, { records: [{ ...full, message: 'overlap=skip: the job is running on a' }] }));
  assert.deepEqual([busy.ok, busy.skippedNoRoom, busy.notRunOutsideFaults], [true, 0, 1]);
  // Recorded skipped and run too: two outcomes.
  const both = check(input(jobs, [...ledger, ...ran('j', 1, 'a', 2)], { records: [full] }));
  assert.deepEqual([both.ok, both.skippedAndRan], [false, 1]);
  assert.match(both.violations.find((v) => v.kind === 'skipped-ran')!.detail, /recorded skipped on b .*but ran on a fence 2/);
  // A failover rerun skipped for want of a permit is not the tick's outcome: its first run is.
  const rerunSkipped = check(input(jobs, [...ledger, ...ran('j', 1, 'a', 2)], { records: [{ ...full, trigger: 'failover', message: 'failover rerun skipped: group etl is full' }] }));
  assert.equal(rerunSkipped.ok, true);
});
