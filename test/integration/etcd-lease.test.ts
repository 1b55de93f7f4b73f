import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { EtcdAuthenticationFailedError, GRPCInvalidArgumentError } from 'etcd3';
import { connectEtcd } from '../../src/daemon/coordination/etcd/connect.js';
import { LeaseGrantError, LeaseKeeper, LeaseNotHeldError } from '../../src/daemon/coordination/etcd/lease-keeper.js';
import { EtcdCluster, freePort } from '../helpers/etcd.js';
import { freshKeys, startNode, type TestNode } from '../helpers/etcd-node.js';
import { waitFor } from '../helpers/wait.js';

interface Seen {
  event: 'proven' | 'unproven' | 'replaced';
  atMs: number;
  ids?: [string, string];
}

/** Records the keeper's events with when they came, on the keeper's (default) clock. */
function record(node: TestNode): Seen[] {
  const seen: Seen[] = [];
  node.lease.on('proven', () => seen.push({ event: 'proven', atMs: performance.now() }));
  node.lease.on('unproven', () => seen.push({ event: 'unproven', atMs: performance.now() }));
  node.lease.on('replaced', (id, previous) => seen.push({ event: 'replaced', atMs: performance.now(), ids: [id, previous] }));
  return seen;
}

async function withCluster(size: number, fn: (cluster: EtcdCluster) => Promise<void>): Promise<void> {
  const cluster = await EtcdCluster.start(size);
  try {
    await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

test('the lease outlives its TTL twice over while kept alive, and keys put under it stay', async () => {
  await withCluster(1, async (cluster) => {
    const keys = freshKeys();
    const node = await startNode(cluster.hosts, keys, 'a', { ttlSeconds: 2 });
    try {
      const seen = record(node);
      assert.ok(node.lease.isProven());
      await node.lease.putWithLease(keys.node('a'), 'alive');
      const startedMs = performance.now();
      await waitFor('two TTLs to pass', () => {
        assert.ok(node.lease.isProven(), 'proof never lapses while etcd answers');
        return performance.now() - startedMs > 4000;
      }, 10_000, 50);
      const kv = await node.client.get(keys.node('a')).exec();
      assert.equal(kv.kvs[0].lease, node.lease.leaseId());
      assert.deepEqual(seen, []);
    } finally {
      await node.close();
    }
  });
});

test('isProven holds for TTL minus the safety margin after the last proof, on the injected clock', async () => {
  await withCluster(1, async (cluster) => {
    const client = connectEtcd({ endpoints: cluster.hosts });
    const clock = { ms: 5000 };
    const keepers = [new LeaseKeeper(client, { ttlSeconds: 3, now: () => clock.ms }), new LeaseKeeper(client, { ttlSeconds: 3, safetyMarginMs: 0, now: () => clock.ms })];
    try {
      for (const k of keepers) await k.start();
      const [defaultMargin, noMargin] = keepers;
      assert.equal(defaultMargin.lastProof(), 5000);
      assert.equal(defaultMargin.isProven(6999), true);
      assert.equal(defaultMargin.isProven(7000), false, 'default margin max(1 s, TTL/3)');
      assert.equal(noMargin.isProven(7999), true);
      assert.equal(noMargin.isProven(8000), false);
      assert.throws(() => new LeaseKeeper(client, { ttlSeconds: 0 }), RangeError);
      assert.throws(() => new LeaseKeeper(client, { ttlSeconds: 1.5 }), RangeError);
      assert.throws(() => new LeaseKeeper(client, { ttlSeconds: 2, safetyMarginMs: 2000 }), RangeError);
    } finally {
      for (const k of keepers) await k.stop();
      client.close();
    }
  });
});

test('with etcd down, proof lapses before the TTL; when etcd is back a new lease replaces the old one', async (t) => {
  await withCluster(1, async (cluster) => {
    const keys = freshKeys();
    const ttlMs = 2000;
    const node = await startNode(cluster.hosts, keys, 'a', { ttlSeconds: ttlMs / 1000 });
    try {
      const seen = record(node);
      const oldId = node.lease.leaseId();
      await node.lease.putWithLease(keys.node('a'), 'alive');

      await cluster.stopMember(0);
      await waitFor('proof to lapse', () => !node.lease.isProven(), ttlMs * 2, 5);
      const lapsedMs = performance.now();
      const lastProof = node.lease.lastProof()!;
      assert.ok(lapsedMs - lastProof < ttlMs, `proof lapsed ${Math.round(lapsedMs - lastProof)} ms after the last keepalive, TTL ${ttlMs}`);
      const unproven = await waitFor('the unproven event', () => seen.find((s) => s.event === 'unproven'));
      assert.ok(unproven.atMs - lastProof < ttlMs, `'unproven' came ${Math.round(unproven.atMs - lastProof)} ms after the last keepalive`);

      await waitFor('the old lease to be past its TTL', () => performance.now() - lastProof > ttlMs, ttlMs * 2, 20);
      await cluster.startMember(0);
      const backMs = performance.now();
      const replaced = await waitFor('the replaced event', () => seen.find((s) => s.event === 'replaced'), 20_000, 20);
      t.diagnostic(`'unproven' ${Math.round(unproven.atMs - lastProof)} ms after the last keepalive (TTL ${ttlMs}); 'replaced' ${Math.round(replaced.atMs - backMs)} ms after etcd was healthy again`);
      assert.deepEqual(replaced.ids, [node.lease.leaseId(), oldId]);
      assert.notEqual(node.lease.leaseId(), oldId);
      await waitFor('proof to return', () => node.lease.isProven());
      assert.deepEqual(seen.map((s) => s.event), ['unproven', 'replaced', 'proven']);
      assert.equal(await node.client.get(keys.node('a')).string(), null, 'keys of the old lease are gone when replaced is emitted');
      await node.lease.putWithLease(keys.node('a'), 'back');
      assert.equal((await node.client.get(keys.node('a')).exec()).kvs[0].lease, node.lease.leaseId());
    } finally {
      await node.close();
    }
  });
});

test('the lease keeps being proven, never replaced, while each member of a 3-member cluster restarts in turn', async (t) => {
  await withCluster(3, async (cluster) => {
    const keys = freshKeys();
    const node = await startNode(cluster.hosts, keys, 'a', { ttlSeconds: 5 });
    try {
      const seen = record(node);
      const id = node.lease.leaseId();
      await node.lease.putWithLease(keys.node('a'), 'alive');
      for (let m = 0; m < 3; m++) {
        await cluster.stopMember(m);
        const stoppedMs = performance.now();
        await waitFor(`a keepalive to succeed with member ${m} down`, () => node.lease.lastProof()! > stoppedMs, 10_000, 20);
        await cluster.startMember(m);
      }
      await waitFor('proof', () => node.lease.isProven());
      assert.equal(node.lease.leaseId(), id);
      assert.equal(seen.filter((s) => s.event === 'replaced').length, 0);
      assert.equal((await node.client.get(keys.node('a')).exec()).kvs[0].lease, id);
      t.diagnostic(`proof lapses during the restarts: ${seen.filter((s) => s.event === 'unproven').length}`);
    } finally {
      await node.close();
    }
  });
});

test('stop revokes the lease: its keys go at once and nothing can be bound to it any more', async () => {
  await withCluster(1, async (cluster) => {
    const keys = freshKeys();
    const node = await startNode(cluster.hosts, keys, 'a');
    try {
      await node.lease.putWithLease(keys.node('a'), 'alive');
      await node.lease.stop();
      assert.equal(await node.client.get(keys.node('a')).string(), null);
      assert.equal(node.lease.isProven(), false);
      assert.throws(() => node.lease.leaseId(), LeaseNotHeldError);
      await assert.rejects(node.lease.putWithLease(keys.node('a'), 'late'), LeaseNotHeldError);
    } finally {
      await node.close();
    }
  });
});

test('a client built with username and password works on an etcd with auth enabled, others are refused', async () => {
  await withCluster(1, async (cluster) => {
    const admin = connectEtcd({ endpoints: cluster.hosts });
    await (await admin.user('root').create('secret')).addRole('root');
    await admin.auth.authEnable();
    admin.close();
    const keys = freshKeys();
    // etcd 3.4 grants leases without checking auth, so the refusals show on key reads.
    for (const [auth, refusal] of [[undefined, GRPCInvalidArgumentError], [{ username: 'root', password: 'wrong' }, EtcdAuthenticationFailedError]] as const) {
      const refused = connectEtcd({ endpoints: cluster.hosts, auth });
      try {
        await assert.rejects(refused.get(keys.node('a')).string(), refusal);
      } finally {
        refused.close();
      }
    }
    const authed = connectEtcd({ endpoints: cluster.hosts, auth: { username: 'root', password: 'secret' } });
    const keeper = new LeaseKeeper(authed, { ttlSeconds: 2 });
    try {
      await keeper.start();
      await keeper.putWithLease(keys.node('a'), 'alive');
      assert.equal(await authed.get(keys.node('a')).string(), 'alive');
    } finally {
      await keeper.stop();
      authed.close();
    }
  });
});

test('start fails with LeaseGrantError when no etcd answers', async () => {
  const client = connectEtcd({ endpoints: [`http://127.0.0.1:${await freePort()}`], dialTimeoutMs: 500 });
  try {
    await assert.rejects(new LeaseKeeper(client, { ttlSeconds: 2 }).start(), LeaseGrantError);
  } finally {
    client.close();
  }
});
