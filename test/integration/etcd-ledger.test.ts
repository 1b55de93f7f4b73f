import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectEtcd } from '../../src/daemon/coordination/etcd/connect.js';
import { EtcdTickLedger } from '../../src/daemon/coordination/etcd/etcd-ledger.js';
import { TxnBatcher } from '../../src/daemon/coordination/etcd/txn-batcher.js';
import { silentLogger } from '../../src/daemon/log.js';
import type { Settlement } from '../../src/daemon/ticks/tick-ledger.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { freshKeys } from '../helpers/etcd-node.js';
import { waitFor } from '../helpers/wait.js';

/** Three nodes' ledgers on one real etcd, reporting the shards of one tick at once. */
let etcd: EtcdCluster | undefined;
before(async () => {
  etcd = await EtcdCluster.start(1);
});
after(async () => {
  await etcd?.stop();
});

test('64 shards reported at once from three nodes, some twice: the tick fails once, ends once, and every node learns the job done', async () => {
  const keys = freshKeys();
  const clients = [0, 1, 2].map(() => connectEtcd({ endpoints: etcd!.hosts }));
  const ledgers = clients.map((c) => new EtcdTickLedger(c, keys, new TxnBatcher(c), silentLogger));
  try {
    await Promise.all(ledgers.map((l) => l.start()));
    const tickMs = Date.UTC(2030, 0, 1);
    const failing = new Set([5, 40]);
    const reports: Array<Promise<Settlement>> = [];
    for (let shard = 0; shard < 64; shard++) {
      const report = { job: 'split', tickMs, shards: 64, shard, ok: !failing.has(shard), atMs: tickMs + shard };
      reports.push(ledgers[shard % 3].report(report));
      // Every node that saw a host die reports its shard: counted once.
      if (shard % 8 === 0) reports.push(ledgers[(shard + 1) % 3].report(report));
    }
    const settled = await Promise.all(reports);
    assert.equal(settled.filter((s) => s.failedNow).length, 1, 'one report failed the tick');
    assert.equal(settled.filter((s) => s.endedNow).length, 1, 'one report ended it');
    assert.equal(settled.filter((s) => s.repeated).length, 8);
    const end = settled.find((s) => s.endedNow)!;
    assert.deepEqual([end.state.ok.length, [...end.state.failed].sort((a, b) => a - b)], [62, [5, 40]]);
    for (const ledger of ledgers) await waitFor('every node to learn the failed tick', () => ledger.doneOf('split')?.failed?.tickMs === tickMs);
    assert.equal(ledgers[0].doneOf('split')?.ok, null, 'a failed tick does not count as ended ok');
    const left = await clients[0].getAll().prefix(keys.tickLedgersPrefix('split')).keys();
    assert.deepEqual(left, [], 'an ended tick leaves no key behind');

    const next = tickMs + 60_000;
    await Promise.all([0, 1].map((shard) => ledgers[shard].report({ job: 'split', tickMs: next, shards: 2, shard, ok: true, atMs: next + 10 })));
    for (const ledger of ledgers) await waitFor('every node to learn the ok tick', () => ledger.doneOf('split')?.ok?.tickMs === next);
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
    for (const c of clients) c.close();
  }
});
