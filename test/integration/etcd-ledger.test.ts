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

    // A shard that did not run ends its tick, incomplete: the done state stays where it was.
    const third = next + 60_000;
    const both = await Promise.all([ledgers[0].report({ job: 'split', tickMs: third, shards: 2, shard: 0, ok: true, atMs: third }), ledgers[1].report({ job: 'split', tickMs: third, shards: 2, shard: 1, ok: false, skipped: true, atMs: third })]);
    assert.deepEqual(both.map((s) => s.endedNow).sort(), [false, true], 'one of the two reports ended the tick');
    assert.ok(both.every((s) => !s.failedNow), 'and neither failed it');
    assert.deepEqual(await clients[0].getAll().prefix(keys.tickLedgersPrefix('split')).keys(), [], 'the incomplete tick left no key');
    const done = ledgers[0].doneOf('split');
    assert.deepEqual([done?.ok?.tickMs, done?.failed?.tickMs], [next, tickMs]);
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
    for (const c of clients) c.close();
  }
});

test('mode=all ticks on etcd: hosts join as they start, the tick ends once when the last ends, fails at the first failed host, and refuses joins after it ended', async () => {
  const keys = freshKeys();
  const clients = [0, 1, 2].map(() => connectEtcd({ endpoints: etcd!.hosts }));
  const ledgers = clients.map((c) => new EtcdTickLedger(c, keys, new TxnBatcher(c), silentLogger));
  const hosts = ['n1', 'n2', 'n3'];
  try {
    await Promise.all(ledgers.map((l) => l.start()));
    const tickMs = Date.UTC(2030, 0, 1);
    const now = tickMs + 100;
    assert.deepEqual(await Promise.all(ledgers.map((l, i) => l.hosts.join('wide', tickMs, hosts[i]))), [true, true, true]);
    assert.equal(await ledgers[0].hosts.join('wide', tickMs, 'n1'), true, 'a host that joined already (its retry) stays joined');
    assert.deepEqual(await ledgers[0].hosts.close('wide', tickMs, hosts, now), { outcome: 'running' }, 'no end before every host that started has ended');

    const ends = await Promise.all([
      ledgers[0].hosts.reportHost({ job: 'wide', tickMs, host: 'n1', ok: true, atMs: now }),
      ledgers[1].hosts.reportHost({ job: 'wide', tickMs, host: 'n2', ok: false, atMs: now }),
      // A survivor reports n2 lost too: counted once.
      ledgers[2].hosts.reportHost({ job: 'wide', tickMs, host: 'n2', ok: false, atMs: now }),
    ]);
    assert.deepEqual([ends[0].failedNow, ends[0].repeated], [false, false]);
    assert.deepEqual(ends.slice(1).map((s) => [s.failedNow, s.repeated]).sort(), [[false, true], [true, false]], 'one of the two reports of n2 counted, and it failed the tick');
    await waitFor('every node to learn the failed tick', () => ledgers.every((l) => l.doneOf('wide')?.failed?.tickMs === tickMs));
    assert.equal((await ledgers[2].hosts.close('wide', tickMs, hosts, now)).outcome, 'running', 'n3 still runs');
    await ledgers[2].hosts.reportHost({ job: 'wide', tickMs, host: 'n3', ok: true, atMs: now });
    const closes = await Promise.all(ledgers.map((l) => l.hosts.close('wide', tickMs, hosts, now)));
    const ended = closes.filter((c) => c.outcome === 'ended');
    assert.equal(ended.length, 1, 'one close ends the tick');
    assert.deepEqual(ended[0], { outcome: 'ended', state: { running: [], ok: ['n1', 'n3'], failed: ['n2'] } });
    assert.equal(await ledgers[0].hosts.join('wide', tickMs, 'n4'), false, 'a host joining after the end is refused');
    assert.deepEqual(await ledgers[0].hosts.reportHost({ job: 'wide', tickMs, host: 'n4', ok: false, atMs: now }).then((s) => s.repeated), true, 'and not counted');
    assert.equal(ledgers[0].doneOf('wide')?.ok, null, 'a tick with a failed host does not end ok');
    const left = await clients[0].getAll().prefix(keys.tickLedgersPrefix('wide')).keys();
    assert.deepEqual(left, [keys.tickClosed('wide', tickMs)], 'only the closed mark is left, under its short lease');

    // The next tick: n3 never starts it. All that started ended ok, but the tick waits for n3 until the grace is over.
    const next = tickMs + 60_000;
    await Promise.all([0, 1].map((i) => ledgers[i].hosts.join('wide', next, hosts[i])));
    for (const i of [0, 1]) await ledgers[i].hosts.reportHost({ job: 'wide', tickMs: next, host: hosts[i], ok: true, atMs: next + 10 });
    const early = await ledgers[0].hosts.close('wide', next, hosts, next + 10);
    assert.deepEqual(early, { outcome: 'wait', atMs: next + ledgers[0].hosts.joinGraceMs });
    const late = await ledgers[1].hosts.close('wide', next, hosts, next + ledgers[0].hosts.joinGraceMs);
    assert.deepEqual(late, { outcome: 'ended', state: { running: [], ok: ['n1', 'n2'], failed: [] } });
    await waitFor('every node to learn the ok tick', () => ledgers.every((l) => l.doneOf('wide')?.ok?.tickMs === next));
    assert.deepEqual(await ledgers[2].hosts.close('wide', next, hosts, next + 60_000), { outcome: 'none' }, 'an ended tick is not ended again');
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
    for (const c of clients) c.close();
  }
});

test('mode=all: a join racing the close either lands before it (and the tick waits for that host) or is refused', async () => {
  const keys = freshKeys();
  const clients = [0, 1].map(() => connectEtcd({ endpoints: etcd!.hosts }));
  const ledgers = clients.map((c) => new EtcdTickLedger(c, keys, new TxnBatcher(c), silentLogger));
  try {
    for (let round = 0; round < 20; round++) {
      const tickMs = Date.UTC(2030, 0, 1) + round * 1000;
      await ledgers[0].hosts.join('race', tickMs, 'a');
      await ledgers[0].hosts.reportHost({ job: 'race', tickMs, host: 'a', ok: true, atMs: tickMs });
      // 'b' is not in the closer's view: the close may go ahead at once, while b joins.
      const [closed, joined] = await Promise.all([ledgers[0].hosts.close('race', tickMs, ['a'], tickMs), ledgers[1].hosts.join('race', tickMs, 'b')]);
      if (joined) {
        assert.notEqual(closed.outcome, 'ended', `round ${round}: b joined, so the tick could not end without it`);
        await ledgers[1].hosts.reportHost({ job: 'race', tickMs, host: 'b', ok: true, atMs: tickMs });
        const after = await ledgers[1].hosts.close('race', tickMs, ['a', 'b'], tickMs);
        assert.deepEqual(after, { outcome: 'ended', state: { running: [], ok: ['a', 'b'], failed: [] } });
      } else {
        assert.deepEqual(closed, { outcome: 'ended', state: { running: [], ok: ['a'], failed: [] } }, `round ${round}: b was refused because the tick had ended`);
      }
    }
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
    for (const c of clients) c.close();
  }
});
