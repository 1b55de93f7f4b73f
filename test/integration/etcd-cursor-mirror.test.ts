import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import type { ClaimRequest } from '../../src/daemon/coordination/coordinator.js';
import { CursorMirror, type CursorSyncReason } from '../../src/daemon/coordination/etcd/cursor-mirror.js';
import { CursorStarter } from '../../src/daemon/coordination/etcd/cursor-starter.js';
import { EtcdCoordinator } from '../../src/daemon/coordination/etcd/etcd-coordinator.js';
import { encodeTick, type ClusterKeys } from '../../src/daemon/coordination/etcd/keys.js';
import { TxnBatcher } from '../../src/daemon/coordination/etcd/txn-batcher.js';
import { silentLogger } from '../../src/daemon/log.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { closeAll, freshKeys, startNode, type TestNode } from '../helpers/etcd-node.js';
import { waitFor } from '../helpers/wait.js';
import { withFirstWatchFrom, withSilentWatches } from '../helpers/etcd-watch-faults.js';

const T0 = Date.UTC(2030, 0, 1);
const tick = (i: number): number => T0 + i * 1000;
const once = (job: string, i: number): ClaimRequest => ({ job, tickMs: tick(i), holdBusy: false, perHost: false });

let single: EtcdCluster | undefined;
let trio: EtcdCluster | undefined;

before(async () => {
  [single, trio] = await Promise.all([EtcdCluster.start(1), EtcdCluster.start(3)]);
});

after(async () => {
  await Promise.all([single?.stop(), trio?.stop()]);
});

interface Mirrored {
  mirror: CursorMirror;
  syncs: CursorSyncReason[];
  coordinator: EtcdCoordinator;
  starter: CursorStarter;
}

/** A node's mirror and coordinator, as ClusterRuntime wires them; stopped when the test ends. */
async function mirrorOf(t: TestContext, node: TestNode, keys: ClusterKeys, opts: { client?: Etcd3; relistIntervalMs?: number } = {}): Promise<Mirrored> {
  const syncs: CursorSyncReason[] = [];
  const mirror = new CursorMirror({
    client: opts.client ?? node.client,
    prefix: keys.cursorsPrefix(),
    isOwn: (v) => node.claims.isOwnMark(v),
    log: silentLogger,
    relistIntervalMs: opts.relistIntervalMs,
    onSynced: (reason) => syncs.push(reason),
  });
  t.after(() => mirror.stop());
  await mirror.start();
  const starter = new CursorStarter(node.claims, new TxnBatcher(node.client), silentLogger);
  const coordinator = new EtcdCoordinator(node.claims, { mirror, starter });
  t.after(() => coordinator.close());
  return { mirror, syncs, coordinator, starter };
}

async function withNodes(t: TestContext, cluster: EtcdCluster | undefined, ids: string[], fn: (nodes: TestNode[], keys: ClusterKeys) => Promise<void>): Promise<void> {
  assert.ok(cluster, 'etcd started');
  const keys = freshKeys();
  const nodes: TestNode[] = [];
  try {
    for (const id of ids) nodes.push(await startNode(cluster.hosts, keys, id));
    await fn(nodes, keys);
  } finally {
    await closeAll(nodes);
  }
}

test('the mirror lists every cursor at start (several pages), then follows claims by watch', async (t) => {
  await withNodes(t, single, ['a', 'b'], async ([a, b], keys) => {
    // 6,000 cursors: more than one page of the list.
    for (let from = 0; from < 6000; from += 100) {
      await a.client.kv.txn({ success: Array.from({ length: 100 }, (_, i) => ({ request_put: { key: Buffer.from(keys.cursor(`j${from + i}`)), value: Buffer.from(`${encodeTick(tick(from + i))}|x|0`) } })) });
    }
    const { mirror, syncs } = await mirrorOf(t, b, keys);
    assert.deepEqual(syncs, ['start']);
    assert.equal(mirror.tickOf(keys.cursor('j0')), tick(0));
    assert.equal(mirror.tickOf(keys.cursor('j5999')), tick(5999));
    assert.equal(mirror.tickOf(keys.cursor('never')), undefined);

    assert.equal((await a.claims.claim(once('j7', 9000))).outcome, 'claimed');
    await waitFor('the watch to deliver the claim', () => mirror.tickOf(keys.cursor('j7')) === tick(9000));
    assert.equal(mirror.takenElsewhere(keys.cursor('j7'), tick(9000)), true);
    assert.equal(mirror.takenElsewhere(keys.cursor('j7'), tick(9001)), false);
  });
});

test('a peer waiting its placement delay learns at once that the tick was claimed; its own claims never count as taken', async (t) => {
  await withNodes(t, single, ['a', 'b'], async ([a, b], keys) => {
    const ma = await mirrorOf(t, a, keys);
    const mb = await mirrorOf(t, b, keys);
    const started = Date.now();
    const waiting = mb.coordinator.takenElsewhere('j', tick(1), 10_000);
    assert.equal((await ma.coordinator.claim(once('j', 1))).outcome, 'claimed');
    assert.equal(await waiting, true);
    assert.ok(Date.now() - started < 5_000, 'resolved by the watch, not by the wait running out');

    await waitFor('a to see its own claim', () => ma.mirror.tickOf(keys.cursor('j')) === tick(1));
    assert.equal(await ma.coordinator.takenElsewhere('j', tick(1), 50), false, 'a claim by this very instance is not "taken elsewhere"');
    assert.equal(await mb.coordinator.takenElsewhere('j', tick(2), 50), false, 'a later tick is not taken');
  });
});

test('with a silent watch the mirror lags; the claim transaction still decides, and the periodic re-list catches up', async (t) => {
  await withNodes(t, single, ['a', 'b'], async ([a, b], keys) => {
    const stale = await mirrorOf(t, b, keys, { client: withSilentWatches(b.client), relistIntervalMs: 2000 });
    assert.equal((await a.claims.claim(once('j', 5))).outcome, 'claimed');
    // b's copy has not seen it: it does not claim to know the tick is taken...
    assert.equal(await stale.coordinator.takenElsewhere('j', tick(5), 50), false);
    // ...so b claims, and etcd refuses: exactly once, whatever the mirror says.
    assert.deepEqual(await stale.coordinator.claim(once('j', 5)), { outcome: 'taken', by: 'a' });
    assert.equal((await stale.coordinator.claim(once('j', 6))).outcome, 'claimed');
    await waitFor('a periodic re-list to bring the copy up to date', () => stale.mirror.tickOf(keys.cursor("j")) === tick(6), 10_000);
    assert.ok(stale.syncs.includes('periodic'));
  });
});

test('a watch cancelled by etcd (its start revision compacted) is replaced by a re-list and a new watch', async (t) => {
  await withNodes(t, single, ['a', 'b'], async ([a, b], keys) => {
    assert.equal((await a.claims.claim(once('j', 1))).outcome, 'claimed');
    const probe = await a.client.kv.range({ key: Buffer.from('/revision-probe') });
    await a.client.kv.compact({ revision: probe.header.revision, physical: true });
    // The first watch asks for revision 1, long compacted: etcd cancels it with a bare error.
    const m = await mirrorOf(t, b, keys, { client: withFirstWatchFrom(b.client, 1) });
    await waitFor('the mirror to re-list', () => m.syncs.length === 2);
    assert.deepEqual(m.syncs, ['start', 'watch-error']);
    assert.equal(m.mirror.tickOf(keys.cursor('j')), tick(1));
    assert.equal((await a.claims.claim(once('j', 2))).outcome, 'claimed');
    await waitFor('the new watch to deliver', () => m.mirror.tickOf(keys.cursor('j')) === tick(2));
    assert.equal(m.syncs.length, 2, 'delivered by the watch, not by another re-list');
  });
});

test('the mirror catches up on cursors written while its member was down and history was compacted', async (t) => {
  assert.ok(trio);
  const cluster = trio;
  await withNodes(t, cluster, [], async (_nodes, keys) => {
    // The follower's client talks to member 0 only; the writer to the others.
    const b = await startNode([cluster.hosts[0]], keys, 'b', { ttlSeconds: 10 });
    t.after(() => b.close());
    const writer = await startNode([cluster.hosts[1], cluster.hosts[2]], keys, 'w', { ttlSeconds: 10 });
    t.after(() => writer.close());
    const m = await mirrorOf(t, b, keys);
    await cluster.stopMember(0);
    try {
      for (let i = 1; i <= 5; i++) assert.equal((await writer.claims.claim(once('j', i))).outcome, 'claimed');
      const probe = await writer.client.kv.range({ key: Buffer.from('/revision-probe') });
      await writer.client.kv.compact({ revision: probe.header.revision, physical: true });
    } finally {
      await cluster.startMember(0);
    }
    await waitFor('the mirror to catch up', () => m.mirror.tickOf(keys.cursor('j')) === tick(5), 30_000);
    assert.ok(m.syncs.length >= 2, `re-listed after the disconnect: ${m.syncs.join(',')}`);
    assert.equal(m.mirror.takenElsewhere(keys.cursor('j'), tick(5)), true);
  });
});

test('cursor(): the mirror\'s value, no round trip; a new job\'s cursor starts in the background, in batches', async (t) => {
  await withNodes(t, single, ['a', 'b'], async ([a, b], keys) => {
    assert.equal((await a.claims.claim(once('old', 3))).outcome, 'claimed');
    const m = await mirrorOf(t, b, keys);
    assert.equal(await m.coordinator.cursor('old'), tick(3));
    assert.equal(await m.coordinator.cursor('new-0'), null, 'a job with no cursor is new');

    const now = Date.now();
    const news = await Promise.all(Array.from({ length: 300 }, (_, i) => m.coordinator.startCursor(`new-${i}`, now)));
    assert.ok(news.every((c) => c === now), 'with no publish time known, a new job starts from now');
    await m.starter.settled();
    assert.equal(m.starter.created, 300);
    const stored = await b.client.get(keys.cursor('new-7')).string();
    assert.equal(stored?.slice(0, 16), String(now).padStart(16, '0'), 'the cursor records where the job started');
    await waitFor('the mirror to see the new cursors', async () => (await m.coordinator.cursor('new-299')) === now);

    // A cursor that exists is never moved by it, even when the mirror had not seen it yet.
    assert.equal(await b.claims.createCursor('old', tick(1000)), false);
    assert.equal(await b.claims.cursor('old'), tick(3));
    // Per-host cursors (mode=all) start now, written before the call returns.
    assert.equal(await m.coordinator.startCursor('old', tick(9), { perHost: true }), tick(9));
    assert.equal(await b.claims.cursor('old', { perHost: true }), tick(9));
  });
});

test('a node that learns of a new job late starts it where the job was published, so a peer\'s claim of an earlier tick still wins', async (t) => {
  await withNodes(t, single, ['a', 'b'], async ([a, b], keys) => {
    const publishedMs = tick(10) - 300;
    const late = await mirrorOf(t, b, keys);
    const published = new EtcdCoordinator(b.claims, { mirror: late.mirror, starter: late.starter, introducedAt: (job) => (job === 'fresh' ? publishedMs : undefined) });
    t.after(() => published.close());
    // b learns of the job 1.2 s after it was published, while a (ranked later) has yet to claim tick 10.
    assert.equal(await published.startCursor('fresh', tick(11) + 200), publishedMs);
    await late.starter.settled();
    const claimed = await a.claims.claim(once('fresh', 10));
    assert.equal(claimed.outcome, 'claimed', 'the late node\'s cursor did not pass over tick 10');
    // A publish time ahead of this node's clock (skew) is not a start in its future.
    assert.equal(await published.startCursor('other', tick(20)), tick(20));
    const skewed = new EtcdCoordinator(b.claims, { introducedAt: () => tick(30) });
    assert.equal(await skewed.startCursor('ahead', tick(25)), tick(25));
    assert.equal(await b.claims.cursor('ahead'), tick(25), 'written before it returns without a starter');
  });
});

test('claims made in one turn of the event loop share requests, and stay exactly-once across racing nodes', async (t) => {
  await withNodes(t, single, ['a', 'b', 'c'], async (nodes, keys) => {
    const batchers = nodes.map((n) => new TxnBatcher(n.client));
    const { TickClaims } = await import('../../src/daemon/coordination/etcd/tick-claims.js');
    const claims = nodes.map((n, i) => new TickClaims(n.client, keys, n.id, n.lease, batchers[i]));
    const JOBS = 100;
    const outcomes = await Promise.all(claims.map((c) => Promise.all(Array.from({ length: JOBS }, (_, j) => c.claim(once(`j${j}`, 1))))));
    for (let j = 0; j < JOBS; j++) {
      const won = outcomes.map((o) => o[j]).filter((o) => o.outcome === 'claimed');
      assert.equal(won.length, 1, `j${j}: ${JSON.stringify(outcomes.map((o) => o[j]))}`);
    }
    for (const b of batchers) assert.ok(b.stats.requests <= 4, `${b.stats.transactions} claims in ${b.stats.requests} requests`);
    t.diagnostic(`requests per node: ${batchers.map((b) => b.stats.requests).join(', ')}`);
  });
});
