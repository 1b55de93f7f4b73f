import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectEtcd } from '../../src/daemon/coordination/etcd/connect.js';
import { TxnBatcher } from '../../src/daemon/coordination/etcd/txn-batcher.js';
import { RunReporter } from '../../src/daemon/cluster/run-reporter.js';
import { newRunId } from '../../src/daemon/runlog/run-id.js';
import { silentLogger } from '../../src/daemon/log.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { freshKeys } from '../helpers/etcd-node.js';

let etcd: EtcdCluster | undefined;
before(async () => {
  etcd = await EtcdCluster.start(1);
});
after(async () => {
  await etcd?.stop();
});

function run(job: string, tickMs: number, shard: number | null, shards: number | null): RunRecord {
  return { id: newRunId(tickMs), job, tickMs, trigger: 'schedule', attempt: 1, fence: 1, host: 'n1', status: 'ok', startedMs: tickMs, endedMs: tickMs + 5, exitCode: 0, signal: null, pid: null, outputBytes: 0, truncated: false, message: null, shard, shards };
}

test('trimming keeps every summary of the tick a sharded job just ended, so peers never take its shards for lost', async () => {
  const keys = freshKeys();
  const client = connectEtcd({ endpoints: etcd!.hosts });
  try {
    const reporter = new RunReporter(new TxnBatcher(client), client, keys, () => '0', silentLogger, 20, 20);
    const T = Date.UTC(2030, 0, 1);
    for (const tick of [T, T + 10_000, T + 20_000]) await Promise.all(Array.from({ length: 64 }, (_, i) => reporter.finished(run('fan', tick, i, 64))));
    const summaries = Object.values(await client.getAll().prefix(keys.runsPrefix('fan')).strings()).map((v) => JSON.parse(v) as RunRecord);
    const last = summaries.filter((s) => s.tickMs === T + 20_000);
    assert.equal(last.length, 64, 'the tick that just ended keeps all its summaries');
    assert.ok(summaries.length <= 20 + 2 * 64 + 20, `trimmed still: ${summaries.length}`);
    // The third tick's 64 ends all see the count over the cap: they share a trim, plus one for what landed during it.
    assert.ok(reporter.trimCount >= 1 && reporter.trimCount <= 2, `trims for 192 summaries: ${reporter.trimCount}`);

    for (let i = 0; i < 60; i++) await reporter.finished(run('plain', T + i * 1000, null, null));
    const plain = await client.getAll().prefix(keys.runsPrefix('plain')).keys();
    assert.ok(plain.length <= 40, `an unsharded job keeps its usual 20-40: ${plain.length}`);
  } finally {
    client.close();
  }
});
