import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, type CheckInput, type RecordedRun } from '../../chaos/checker.js';
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
