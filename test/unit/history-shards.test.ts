import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { run as runFixture } from '../tui/fixtures.js';
import { groupShardRuns, shardCounts, tickHosts, tickStatus, type ShardTick } from '../../src/cli/shard-ticks.js';

let seq = 0;
/** A finished run; each call makes one that started later (the tests list them newest first, as the daemon does). */
const run = (job: string, over: Partial<RunRecord> = {}): RunRecord => {
  seq++;
  return runFixture(`01RUN${String(seq).padStart(5, '0')}`, job, { tickMs: 60_000, trigger: 'schedule', status: 'ok', startedMs: 60_000 + seq, endedMs: 61_000 + seq, exitCode: 0, host: 'h1', ...over });
};

const shardRun = (shard: number, over: Partial<RunRecord> = {}) => run('reindex', { shard, shards: 4, ...over });
const tickOf = (runs: RunRecord[]): ShardTick => {
  const [row] = groupShardRuns(runs);
  assert.equal(row.kind, 'tick');
  return row.kind === 'tick' ? row.tick : (undefined as never);
};

test('shard runs of one tick fold into one row where the newest sits; unsharded runs stay one row each', () => {
  const plain = run('backup', { tickMs: 120_000 });
  const tickB = [3, 2, 1, 0].map((i) => shardRun(i, { tickMs: 120_000 }));
  const tickA = [3, 2, 1, 0].map((i) => shardRun(i, { tickMs: 60_000 }));
  const older = run('backup', { tickMs: 60_000 });
  const rows = groupShardRuns([...tickB, plain, ...tickA, older]);
  assert.deepEqual(
    rows.map((r) => (r.kind === 'run' ? r.run.id : `${r.tick.job}@${r.tick.tickMs}`)),
    ['reindex@120000', plain.id, 'reindex@60000', older.id],
  );
  const first = rows[0].kind === 'tick' ? rows[0].tick : null;
  assert.deepEqual(first?.latest.map((r) => r.shard), [0, 1, 2, 3]);
  assert.equal(first?.shards, 4);
});

test('a tick is ok when every shard is, counted as 4/4 ok on one host', () => {
  const tick = tickOf([0, 1, 2, 3].map((i) => shardRun(i)));
  assert.equal(tickStatus(tick), 'ok');
  assert.equal(shardCounts(tick), '4/4 ok');
  assert.equal(tickHosts(tick), 'h1');
});

test('one failed shard fails the tick; counts list each status and the hosts are counted', () => {
  const tick = tickOf([shardRun(0, { host: 'a' }), shardRun(1, { host: 'b', status: 'failed', exitCode: 1 }), shardRun(2, { host: 'c' }), shardRun(3, { host: 'a' })]);
  assert.equal(tickStatus(tick), 'failed');
  assert.equal(shardCounts(tick), '3 ok, 1 failed of 4');
  assert.equal(tickHosts(tick), '3 hosts');
  for (const status of ['timeout', 'killed', 'lost'] as const) assert.equal(tickStatus(tickOf([shardRun(0), shardRun(1, { status })])), 'failed', status);
});

test('a running shard makes the tick running, even beside a failed one', () => {
  const tick = tickOf([shardRun(0, { status: 'running', endedMs: null }), shardRun(1, { status: 'failed' }), shardRun(2), shardRun(3)]);
  assert.equal(tickStatus(tick), 'running');
  assert.equal(shardCounts(tick), '2 ok, 1 failed, 1 running of 4');
});

test('a retried shard counts by its newest attempt', () => {
  // Newest first: the retry (attempt 2, ok) before the failed first attempt.
  const tick = tickOf([shardRun(1, { attempt: 2, trigger: 'retry' }), shardRun(0), shardRun(1, { status: 'failed' }), shardRun(2), shardRun(3)]);
  assert.equal(tickStatus(tick), 'ok');
  assert.equal(shardCounts(tick), '4/4 ok');
  assert.equal(tick.runs.length, 5);
});

test('shards missing from the records leave the tick partial, not ok', () => {
  const tick = tickOf([shardRun(0), shardRun(2)]);
  assert.equal(tickStatus(tick), 'partial');
  assert.equal(shardCounts(tick), '2 ok of 4');
  assert.equal(tickStatus(tickOf([0, 1, 2, 3].map((i) => shardRun(i, { status: 'skipped' })))), 'skipped');
});
