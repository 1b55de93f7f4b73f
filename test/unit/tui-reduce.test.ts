import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView, StatusView } from '../../src/daemon/control/api-types.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { emptyState, type TuiState } from '../../src/tui/model.js';
import { RECENT_CAP, disconnected, reduce } from '../../src/tui/reduce.js';

const job = (name: string, over: Partial<JobView> = {}): JobView => ({
  name,
  scheduleText: '* * * * *',
  description: 'every minute',
  tz: 'UTC',
  command: 'true',
  nextTickMs: 60_000,
  lastRun: null,
  running: [],
  source: { file: 'crontab', line: 1 },
  retained: false,
  shards: 1,
  after: null,
  afterFailure: null,
  paused: null,
  ...over,
});

let seq = 0;
const run = (jobName: string, over: Partial<RunRecord> = {}): RunRecord => {
  seq++;
  return {
    id: `01RUN${String(seq).padStart(21, '0')}`,
    job: jobName,
    tickMs: 0,
    trigger: 'manual',
    attempt: 1,
    fence: 1,
    host: 'h1',
    status: 'running',
    startedMs: 1000 + seq,
    endedMs: null,
    exitCode: null,
    signal: null,
    pid: 42,
    outputBytes: 0,
    truncated: false,
    message: null,
    shard: null,
    shards: null,
    ...over,
  };
};

const status = { version: 'x', node: 'h1', running: 0 } as StatusView;

const snapshotOf = (jobs: JobView[], extra: Partial<{ running: RunRecord[]; recent: RunRecord[] }> = {}): TuiState =>
  reduce(emptyState(), { type: 'snapshot', status, jobs, running: extra.running ?? [], recent: extra.recent ?? [], nodes: [] });

test('a snapshot replaces everything, marks the feed connected and sorts jobs by name', () => {
  const stale = disconnected(emptyState(), 'daemon unreachable', 5000);
  const s = reduce(stale, { type: 'snapshot', status, jobs: [job('b'), job('a'), job('c')], running: [], recent: [], nodes: [] });
  assert.equal(s.connected, true);
  assert.equal(s.error, null);
  assert.equal(s.retryAtMs, null);
  assert.deepEqual(
    s.jobs.map((j) => j.name),
    ['a', 'b', 'c'],
  );
});

test('a run start marks its job running and lists it; its finish moves it to recent', () => {
  const s0 = snapshotOf([job('a'), job('b')]);
  const started = run('b');
  const s1 = reduce(s0, { type: 'run', run: started });
  assert.deepEqual(s1.running.map((r) => r.id), [started.id]);
  assert.deepEqual(s1.jobs[1].running, [{ runId: started.id, host: 'h1' }]);
  assert.equal(s1.jobs[1].lastRun, started);
  assert.equal(s1.jobs[0], s0.jobs[0], 'other jobs keep their identity');
  assert.equal(s0.running.length, 0, 'the previous state is untouched');

  const finished = { ...started, status: 'ok' as const, endedMs: 2000, exitCode: 0 };
  const s2 = reduce(s1, { type: 'run', run: finished });
  assert.deepEqual(s2.running, []);
  assert.deepEqual(s2.recent, [finished]);
  assert.deepEqual(s2.jobs[1].running, []);
  assert.equal(s2.jobs[1].lastRun, finished);
});

test('the shard runs of one tick are separate live runs of their job, each keeping its shard', () => {
  const s0 = snapshotOf([job('reindex', { shards: 3 })]);
  const shards = [0, 1, 2].map((shard) => run('reindex', { tickMs: 60_000, shard, shards: 3, host: `h${shard}` }));
  const s1 = shards.reduce((s, r) => reduce(s, { type: 'run', run: r }), s0);
  assert.deepEqual(s1.running.map((r) => r.shard), [0, 1, 2]);
  assert.deepEqual(s1.jobs[0].running.map((r) => r.host), ['h0', 'h1', 'h2']);
  const s2 = reduce(s1, { type: 'run', run: { ...shards[1], status: 'failed', endedMs: 5000, exitCode: 1 } });
  assert.deepEqual(s2.running.map((r) => r.shard), [0, 2], 'one shard ending leaves the others running');
  assert.deepEqual(s2.recent.map((r) => [r.shard, r.status]), [[1, 'failed']]);
});

test('a dependent job has no next tick: a next event with none leaves it as it was', () => {
  const s0 = snapshotOf([job('report', { after: ['backup'], nextTickMs: null })]);
  assert.equal(reduce(s0, { type: 'next', job: 'report', nextTickMs: null }), s0);
});

test('a run applied twice (snapshot and live event) is one run', () => {
  const r = run('a');
  const s = reduce(snapshotOf([job('a', { running: [{ runId: r.id, host: 'h1' }], lastRun: r })], { running: [r] }), { type: 'run', run: r });
  assert.equal(s.running.length, 1);
  assert.equal(s.jobs[0].running.length, 1);
});

test('an older run finishing does not replace a newer lastRun', () => {
  const older = run('a');
  const newer = run('a');
  let s = reduce(snapshotOf([job('a')]), { type: 'run', run: older });
  s = reduce(s, { type: 'run', run: newer });
  s = reduce(s, { type: 'run', run: { ...older, status: 'failed', endedMs: 5000 } });
  assert.equal(s.jobs[0].lastRun?.id, newer.id);
  assert.deepEqual(s.jobs[0].running.map((r) => r.runId), [newer.id]);
  assert.deepEqual(s.running.map((r) => r.id), [newer.id]);
});

test('recent stays newest first and capped', () => {
  let s = snapshotOf([job('a')]);
  const ids: string[] = [];
  for (let i = 0; i < RECENT_CAP + 20; i++) {
    const r = run('a', { status: 'skipped', endedMs: 0 });
    ids.push(r.id);
    s = reduce(s, { type: 'run', run: r });
  }
  assert.equal(s.recent.length, RECENT_CAP);
  assert.deepEqual(s.recent.map((r) => r.id), ids.reverse().slice(0, RECENT_CAP));
});

test('a run of a job the list does not have is still listed', () => {
  const r = run('gone');
  const s = reduce(snapshotOf([job('a')]), { type: 'run', run: r });
  assert.deepEqual(s.running.map((x) => x.id), [r.id]);
  assert.deepEqual(s.jobs[0].running, []);
});

test('next updates one job; an unchanged or unknown one returns the same state', () => {
  const s0 = snapshotOf([job('a'), job('b'), job('c')]);
  const s1 = reduce(s0, { type: 'next', job: 'c', nextTickMs: 120_000 });
  assert.equal(s1.jobs[2].nextTickMs, 120_000);
  assert.equal(reduce(s1, { type: 'next', job: 'c', nextTickMs: 120_000 }), s1);
  assert.equal(reduce(s1, { type: 'next', job: 'zz', nextTickMs: 1 }), s1);
  assert.equal(reduce(s1, { type: 'next', job: 'b', nextTickMs: null }).jobs[1].nextTickMs, null);
});

test('jobs, nodes and status replace their part', () => {
  const s0 = snapshotOf([job('a')]);
  const s1 = reduce(s0, { type: 'jobs', jobs: [job('z'), job('m')] });
  assert.deepEqual(s1.jobs.map((j) => j.name), ['m', 'z']);
  const node = { id: 'h2', self: false, healthy: true, skewMs: 0, running: 0, slots: null, figures: null, uptimeMs: 1, labels: {}, version: 'x', peerUrl: null };
  assert.deepEqual(reduce(s1, { type: 'nodes', nodes: [node] }).nodes, [node]);
  const st = { ...status, running: 3 };
  assert.equal(reduce(s1, { type: 'status', status: st }).status, st);
});

test('disconnected keeps the data and records why and when the feed retries', () => {
  const s0 = snapshotOf([job('a')]);
  const s1 = disconnected(s0, 'lost the daemon', 1234);
  assert.equal(s1.connected, false);
  assert.equal(s1.error, 'lost the daemon');
  assert.equal(s1.retryAtMs, 1234);
  assert.equal(s1.jobs, s0.jobs);
});

test('binary search finds jobs among many', () => {
  const names = Array.from({ length: 1000 }, (_, i) => `job-${i}`);
  const s0 = snapshotOf(names.map((n) => job(n)));
  for (const n of ['job-0', 'job-999', 'job-500', 'job-10']) {
    const s1 = reduce(s0, { type: 'next', job: n, nextTickMs: 7 });
    assert.equal(s1.jobs.find((j) => j.name === n)!.nextTickMs, 7);
  }
});
