import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TxnBatcher } from '../../src/daemon/coordination/etcd/txn-batcher.js';
import { RunReporter } from '../../src/daemon/cluster/run-reporter.js';
import { RunWatcher, runActivityMirror } from '../../src/daemon/cluster/run-watcher.js';
import { newRunId } from '../../src/daemon/runlog/run-id.js';
import { silentLogger } from '../../src/daemon/log.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { freshKeys, startNode } from '../helpers/etcd-node.js';
import { waitFor } from '../helpers/wait.js';

let etcd: EtcdCluster | undefined;
before(async () => {
  etcd = await EtcdCluster.start(1);
});
after(async () => {
  await etcd?.stop();
});

function run(host: string, status: RunRecord['status']): RunRecord {
  const now = Date.now();
  return { id: newRunId(now), job: 'j', tickMs: now, trigger: 'schedule', attempt: 1, fence: 1, host, status, startedMs: now, endedMs: status === 'running' ? null : now + 5, exitCode: status === 'ok' ? 0 : null, signal: null, pid: null, outputBytes: 0, truncated: false, message: null, shard: null, shards: null };
}

test('the run watcher reports other hosts\' runs from the mirror it shares with failover: start, end, and a run gone with its host', async () => {
  const keys = freshKeys();
  const n1 = await startNode(etcd!.hosts, keys, 'n1');
  const n2 = await startNode(etcd!.hosts, keys, 'n2');
  // The mirror as the runtime builds it, with a second listener standing in for failover.
  const activity = runActivityMirror(n1.client, keys, silentLogger);
  const watcher = new RunWatcher({ client: n1.client, keys, nodeId: 'n1', log: silentLogger, activity });
  let otherBatches = 0;
  activity.on('changes', () => otherBatches++);
  const seen: RunRecord[] = [];
  watcher.on('run', (r) => seen.push(r));
  try {
    watcher.start();
    await activity.start();
    const reporter2 = new RunReporter(new TxnBatcher(n2.client), n2.client, keys, () => n2.lease.leaseId(), silentLogger);
    const reporter1 = new RunReporter(new TxnBatcher(n1.client), n1.client, keys, () => n1.lease.leaseId(), silentLogger);

    const ended = run('n2', 'running');
    await reporter2.started(ended);
    await reporter1.started(run('n1', 'running'));
    await waitFor('n2\'s run start', () => seen.some((r) => r.id === ended.id && r.status === 'running'));
    await reporter2.finished({ ...ended, status: 'ok', endedMs: ended.startedMs + 5, exitCode: 0 });
    await waitFor('n2\'s run end', () => seen.some((r) => r.id === ended.id && r.status === 'ok'));

    // A run whose host's lease goes: its running/ key vanishes with no summary.
    const orphan = run('n2', 'running');
    await reporter2.started(orphan);
    await waitFor('the orphan\'s start', () => seen.some((r) => r.id === orphan.id));
    await n2.lease.stop();
    const lost = await waitFor('the orphan reported lost', () => seen.find((r) => r.id === orphan.id && r.status === 'lost'));
    assert.match(lost.message ?? '', /n2 left the cluster/);

    assert.ok(seen.every((r) => r.host === 'n2'), 'this node\'s own runs come from its executor, not the watch');
    assert.ok(otherBatches > 0, 'the other listener got the same batches');
    watcher.stop();
    const count = seen.length;
    const batches = otherBatches;
    await reporter2.finished(run('n2', 'ok'));
    await waitFor('the other listener to see the summary', () => otherBatches > batches);
    assert.equal(seen.length, count, 'a stopped watcher reports nothing');
  } finally {
    await activity.stop();
    await n1.close();
    await n2.close().catch(() => {});
  }
});
