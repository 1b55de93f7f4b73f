import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { ChainEnd, SubmitResult, TickRun } from '../../src/daemon/executor/executor.js';
import { scheduleFor } from '../../src/daemon/schedule/index.js';
import { Backfiller } from '../../src/daemon/ticks/backfiller.js';
import { unitOf } from '../../src/daemon/ticks/shards.js';

const T = Date.UTC(2027, 0, 1, 12, 0, 0);

/** A runner whose shard 0 ends at once, inside submit (a command that fails to start), and the rest when told. */
class Runner extends EventEmitter<{ 'chain-ended': [ChainEnd] }> {
  readonly runs: TickRun[] = [];
  submit(run: TickRun): SubmitResult {
    this.runs.push(run);
    if (run.shard?.index === 0) this.end(run, 'failed');
    return { kind: 'started', runId: `r${this.runs.length}` };
  }
  end(run: TickRun, status: ChainEnd['status']): void {
    this.emit('chain-ended', { job: run.job.name, unit: unitOf(run.job.name, run.shard ?? null), tickMs: run.tickMs, trigger: run.trigger, shard: run.shard ?? null, endedMs: T, status, busyFence: null, runId: `end-${run.shard?.index}`, env: null, movedTo: null });
  }
}

test('a sharded backfill tick waits for every shard it submitted, also when the first ends before the next is claimed', async () => {
  const job = parseCrontab('#dcron name=fan shards=3\n* * * * * true\n', { file: join('/tmp', 'crontab'), defaultTz: 'UTC' }).jobs[0];
  const runner = new Runner();
  const backfiller = new Backfiller({
    claims: { claim: async () => true, release: async () => {} },
    coordinator: { nextFence: async () => 1, mayAct: () => true },
    runner,
    scheduleOf: (j) => scheduleFor(j.schedule, j.tz),
    recordsOfTick: async () => [],
    eligibleHere: () => true,
    now: () => T + 3_600_000,
  });
  const result = backfiller.runTick(job, T, true);
  let done = false;
  void result.then(() => (done = true));
  // Let the claims and submits of all three shards go through.
  for (let i = 0; i < 20 && runner.runs.length < 3; i++) await new Promise((r) => setImmediate(r));
  assert.equal(runner.runs.length, 3);
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'shards 1 and 2 still run: the tick has not ended');
  runner.end(runner.runs[1], 'ok');
  runner.end(runner.runs[2], 'ok');
  const r = await result;
  assert.equal(r.outcome, 'failed');
  assert.deepEqual(r.runIds.sort(), ['end-0', 'end-1', 'end-2']);
  assert.match(r.message!, /1 of 3 run\(s\) ended failed/);
});
