import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GRPCUnavailableError, type ITxnRequest } from 'etcd3';
import type { ClaimRequest } from '../../src/daemon/coordination/coordinator.js';
import { connectEtcd } from '../../src/daemon/coordination/etcd/connect.js';
import { EtcdCoordinator } from '../../src/daemon/coordination/etcd/etcd-coordinator.js';
import type { ClusterKeys } from '../../src/daemon/coordination/etcd/keys.js';
import { TickClaims, type EtcdClaimOutcome } from '../../src/daemon/coordination/etcd/tick-claims.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { closeAll, freshKeys, startNode, type TestNode } from '../helpers/etcd-node.js';
import { waitFor } from '../helpers/wait.js';

const T0 = Date.UTC(2030, 0, 1);
const tick = (i: number): number => T0 + i * 60_000;
const once = (job: string, i: number): ClaimRequest => ({ job, tickMs: tick(i), holdBusy: false, perHost: false });
const skip = (job: string, i: number): ClaimRequest => ({ job, tickMs: tick(i), holdBusy: true, perHost: false });
const perHost = (job: string, i: number): ClaimRequest => ({ job, tickMs: tick(i), holdBusy: false, perHost: true });

let single: EtcdCluster | undefined;
let trio: EtcdCluster | undefined;

before(async () => {
  single = await EtcdCluster.start(1);
  trio = await EtcdCluster.start(3);
});

after(async () => {
  await single?.stop();
  await trio?.stop();
});

async function withNodes(cluster: EtcdCluster | undefined, ids: string[], fn: (nodes: TestNode[], keys: ClusterKeys) => Promise<void>): Promise<void> {
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

function fenceOf(r: EtcdClaimOutcome): number {
  assert.ok(r.outcome === 'claimed' || r.outcome === 'busy', `expected a fence, got ${JSON.stringify(r)}`);
  return r.fence;
}

test('3 nodes racing on the same 200 ticks on a 3-member cluster: each tick is claimed exactly once, fences increase', async (t) => {
  await withNodes(trio, ['a', 'b', 'c'], async (nodes) => {
    const winners = new Map<number, Array<{ node: string; fence: number }>>();
    await Promise.all(
      nodes.map(async (n) => {
        for (let i = 0; i < 200; i++) {
          const r = await n.claims.claim(once('race', i));
          if (r.outcome === 'claimed') winners.set(i, [...(winners.get(i) ?? []), { node: n.id, fence: r.fence }]);
          else assert.equal(r.outcome, 'taken');
        }
      }),
    );
    for (let i = 0; i < 200; i++) assert.equal(winners.get(i)?.length, 1, `tick ${i} claimed by ${JSON.stringify(winners.get(i))}`);
    for (let i = 1; i < 200; i++) assert.ok(winners.get(i)![0].fence > winners.get(i - 1)![0].fence, `fence of tick ${i}`);
    const perNode = nodes.map((n) => `${n.id}=${[...winners.values()].filter((w) => w[0].node === n.id).length}`);
    t.diagnostic(`ticks won: ${perNode.join(' ')}`);
  });
});

test('a late host never claims a tick at or before the cursor, whoever moved it', async () => {
  await withNodes(single, ['a', 'late'], async ([a, late]) => {
    for (let i = 0; i < 10; i++) assert.equal((await a.claims.claim(once('j', i))).outcome, 'claimed');
    for (const i of [0, 5, 9]) assert.deepEqual(await late.claims.claim(once('j', i)), { outcome: 'taken', by: 'a' });
    assert.equal((await late.claims.claim(once('j', 10))).outcome, 'claimed');
    assert.deepEqual(await a.claims.claim(once('j', 10)), { outcome: 'taken', by: 'late' });
    assert.equal(await a.claims.cursor('j'), tick(10));
  });
});

test('fences strictly increase per job across claims and nextFence, from any node', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b]) => {
    const fences = [
      fenceOf(await a.claims.claim(once('j', 1))),
      await b.claims.nextFence('j'),
      await a.claims.nextFence('j'),
      fenceOf(await b.claims.claim(once('j', 2))),
      await b.claims.nextFence('other'),
      fenceOf(await a.claims.claim(once('j', 3))),
      await a.claims.nextFence('j'),
    ];
    for (let i = 1; i < fences.length; i++) assert.ok(fences[i] > fences[i - 1], `fences ${fences.join(',')}`);
  });
});

test('the winner learns where the cursor stood, so ticks nobody claimed can be recorded', async () => {
  await withNodes(single, ['a'], async ([a]) => {
    const first = await a.claims.claim(once('gap', 1000));
    assert.deepEqual(first, { outcome: 'claimed', fence: (first as { fence: number }).fence, previousTickMs: null });
    const later = await a.claims.claim(once('gap', 4000));
    assert.equal(later.outcome === 'claimed' && later.previousTickMs, tick(1000));
  });
});

test('a claim repeated by the same instance reads its own commit back (ambiguous commit); a restarted node does not', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b], keys) => {
    const first = await a.claims.claim(once('j', 1));
    assert.equal(first.outcome, 'claimed');
    // The read-back cannot know where the cursor stood before: only outcome and fence must match.
    const again = await a.claims.claim(once('j', 1));
    assert.deepEqual({ outcome: again.outcome, fence: again.outcome === 'claimed' ? again.fence : null }, { outcome: 'claimed', fence: first.outcome === 'claimed' ? first.fence : -1 }, 'same fence, not taken');
    assert.deepEqual(await b.claims.claim(once('j', 1)), { outcome: 'taken', by: 'a' });
    assert.equal((await b.claims.claim(once('j', 2))).outcome, 'claimed');
    const stillOurs = await a.claims.claim(once('j', 1));
    assert.ok(stillOurs.outcome === 'claimed' && first.outcome === 'claimed' && stillOurs.fence === first.fence, 'still ours after the cursor moved on');
    const restarted = new TickClaims(a.client, keys, 'a', a.lease);
    assert.deepEqual(await restarted.claim(once('j', 1)), { outcome: 'taken', by: 'b' }, 'a new daemon must not run its previous life\'s claim again');

    // The same for a tick skipped because the job is busy.
    assert.equal((await a.claims.claim(skip('s', 1))).outcome, 'claimed');
    const first2 = await b.claims.claim(skip('s', 2));
    assert.ok(first2.outcome === 'busy' && first2.previousTickMs === tick(1), 'the skipping host learns where the cursor stood too');
    // As for claims, the read-back of a skip cannot know where the cursor stood.
    const { previousTickMs: _, ...skipped } = first2;
    assert.deepEqual(await b.claims.claim(skip('s', 2)), skipped);
    assert.equal(await a.claims.advanceCursor('s', tick(3)), true);
    assert.deepEqual(await b.claims.claim(skip('s', 2)), skipped);
    assert.equal(await a.claims.advanceCursor('s', tick(3)), true, 'a repeated advance reads back its own move too');
    assert.equal(await b.claims.advanceCursor('s', tick(3)), false);
  });
});

test('a claim whose reply was lost is recognised when retried, even after the cursor moved on', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b], keys) => {
    // Commits through a second client, then reports the reply lost, as a dropped connection would.
    const direct = connectEtcd({ endpoints: single!.hosts });
    const lossy = connectEtcd({ endpoints: single!.hosts });
    try {
      lossy.mock({
        exec: async (_service: string, _method: string, params: unknown): Promise<never> => {
          await direct.kv.txn(params as ITxnRequest);
          throw new GRPCUnavailableError('reply lost');
        },
      });
      const claims = new TickClaims(lossy, keys, 'a', a.lease);
      await assert.rejects(claims.claim(skip('j', 1)), GRPCUnavailableError);
      lossy.unmock();
      assert.deepEqual(await b.claims.claim(skip('j', 1)), { outcome: 'taken', by: 'a' });
      const later = await b.claims.claim(skip('j', 2));
      assert.equal(later.outcome, 'busy', 'the lost claim took the busy mark');
      const retried = await claims.claim(skip('j', 1));
      assert.equal(retried.outcome, 'claimed');
      assert.ok(fenceOf(retried) < fenceOf(later), 'the fence is the lost commit\'s revision');
      assert.equal(await claims.releaseBusy('j', fenceOf(retried)), true);
    } finally {
      lossy.close();
      direct.close();
    }
  });
});

test('a job with no cursor yet is claimable, exactly once under races', async () => {
  await withNodes(single, ['a', 'b', 'c'], async (nodes) => {
    assert.equal(await nodes[0].claims.cursor('fresh'), null);
    assert.equal((await nodes[0].claims.claim(once('fresh', 1))).outcome, 'claimed');
    assert.equal(await nodes[1].claims.cursor('fresh'), tick(1));

    for (let round = 0; round < 20; round++) {
      const job = `same-${round}`;
      const outcomes = await Promise.all(nodes.map((n) => n.claims.claim(once(job, 7))));
      assert.equal(outcomes.filter((o) => o.outcome === 'claimed').length, 1, JSON.stringify(outcomes));
    }
    for (let round = 0; round < 20; round++) {
      // Whichever creates the cursor, the later tick must still be claimable.
      const job = `mixed-${round}`;
      const [early, later] = await Promise.all([nodes[0].claims.claim(once(job, 3)), nodes[1].claims.claim(once(job, 5))]);
      assert.equal(later.outcome, 'claimed', JSON.stringify({ early, later }));
      assert.equal(await nodes[2].claims.cursor(job), tick(5));
    }
  });
});

test('holdBusy: while a run holds the busy mark, exactly one node records the next tick as skipped', async () => {
  await withNodes(single, ['a', 'b', 'c'], async (nodes, keys) => {
    const [a, b] = nodes;
    const held = fenceOf(await a.claims.claim(skip('j', 1)));
    const outcomes = await Promise.all(nodes.map((n) => n.claims.claim(skip('j', 2))));
    const busy = outcomes.filter((o) => o.outcome === 'busy');
    assert.equal(busy.length, 1, JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o.outcome === 'taken').length, 2);
    assert.equal(busy[0].outcome === 'busy' && busy[0].holder, 'a');
    assert.ok(fenceOf(busy[0]) > held, 'the skip record gets a fence of its own');

    // Released only with the fence of the claim that took it.
    assert.equal(await b.claims.releaseBusy('j', fenceOf(busy[0])), false);
    assert.equal(await b.claims.releaseBusy('j', held + 1), false);
    assert.notEqual(await a.client.get(keys.busy('j')).string(), null);
    assert.equal(await a.claims.releaseBusy('j', held), true);
    assert.equal(await a.client.get(keys.busy('j')).string(), null);

    const next = fenceOf(await b.claims.claim(skip('j', 3)));
    assert.equal(await a.claims.releaseBusy('j', held), false, 'a stale release does not free the new holder\'s mark');
    assert.equal(JSON.parse((await a.client.get(keys.busy('j')).string())!).node, 'b');
    assert.equal(await b.claims.releaseBusy('j', next), true);
  });
});

test('an early claim of a busy job changes nothing, so the claim at the tick can still win it', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b], keys) => {
    const held = fenceOf(await a.claims.claim(skip('j', 1)));
    const before = await a.client.get(keys.cursor('j')).string();
    assert.deepEqual(await b.claims.claim({ ...skip('j', 2), early: true }), { outcome: 'notYet' });
    assert.equal(await a.client.get(keys.cursor('j')).string(), before, 'the cursor did not move');
    // The run ends before the tick: the claim made at the tick runs it instead of skipping it.
    assert.equal(await a.claims.releaseBusy('j', held), true);
    assert.equal((await b.claims.claim(skip('j', 2))).outcome, 'claimed');
    // Early claims of a free job, or of a job without a busy mark, claim as usual.
    assert.equal((await a.claims.claim({ ...once('k', 5), early: true })).outcome, 'claimed');
    assert.equal((await b.claims.claim({ ...once('k', 5), early: true })).outcome, 'taken');
  });
});

test('a busy mark vanishes when its owner\'s lease is revoked', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b], keys) => {
    assert.equal((await a.claims.claim(skip('j', 1))).outcome, 'claimed');
    const mark = await a.client.get(keys.busy('j')).exec();
    assert.equal(mark.kvs[0].lease, a.lease.leaseId());
    await a.lease.stop();
    assert.equal(await b.client.get(keys.busy('j')).string(), null);
    assert.equal((await b.claims.claim(skip('j', 2))).outcome, 'claimed');
  });
});

test('perHost claims are independent per node and leave the shared cursor alone', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b]) => {
    const fa = fenceOf(await a.claims.claim(perHost('all', 5)));
    const fb = fenceOf(await b.claims.claim(perHost('all', 5)));
    assert.notEqual(fa, fb);
    assert.equal(await a.claims.cursor('all'), null);
    assert.equal(await a.claims.cursor('all', { perHost: true }), tick(5));
    assert.deepEqual(await a.claims.claim(perHost('all', 4)), { outcome: 'taken', by: 'a' });
    assert.equal((await b.claims.claim(perHost('all', 6))).outcome, 'claimed');
    assert.equal(await a.claims.cursor('all', { perHost: true }), tick(5));
    assert.equal(await b.claims.cursor('all', { perHost: true }), tick(6));
  });
});

test('advanceCursor only moves forward and says which call moved it', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b]) => {
    assert.equal(await a.claims.advanceCursor('j', tick(5)), true, 'a missing cursor is created');
    assert.equal(await b.claims.advanceCursor('j', tick(5)), false);
    assert.equal(await b.claims.advanceCursor('j', tick(3)), false);
    assert.equal(await a.claims.cursor('j'), tick(5));
    assert.deepEqual(await b.claims.claim(once('j', 5)), { outcome: 'taken', by: 'a' });
    assert.equal((await b.claims.claim(once('j', 6))).outcome, 'claimed');
    assert.equal(await a.claims.advanceCursor('j', tick(8)), true);
    assert.equal(await b.claims.cursor('j'), tick(8));
  });
});

test('a node that cannot prove its lease claims nothing and moves no cursor', async () => {
  await withNodes(single, ['a'], async ([a], keys) => {
    const unproven = new TickClaims(a.client, keys, 'a', { isProven: () => false, leaseId: () => a.lease.leaseId() });
    assert.deepEqual(await unproven.claim(once('j', 1)), { outcome: 'unproven' });
    assert.deepEqual(await unproven.claim(skip('j', 1)), { outcome: 'unproven' });
    assert.equal(await unproven.advanceCursor('j', tick(1)), false);
    assert.equal(await a.claims.cursor('j'), null);
  });
});

test('a busy mark bound to a lease replaced while its claim was in flight is reported gone, not trusted', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b], keys) => {
    // A lease of a's own that this test replaces by hand, as the keeper does after a lapse longer than the TTL.
    const grant = async () => (await a.client.leaseClient.leaseGrant({ TTL: 30 })).ID;
    let held = await grant();
    const claims = new TickClaims(a.client, keys, 'a', { isProven: () => true, leaseId: () => held });

    // Replaced between send and answer (the claim reads the lease as it sends): the mark went with the old lease.
    const next = await grant();
    const inFlight = claims.claim(skip('j', 1));
    const old = held;
    held = next;
    const answered = await inFlight;
    assert.equal(answered.outcome, 'claimed');
    assert.equal(answered.outcome === 'claimed' && answered.busyMarkGone, true);
    await a.client.leaseClient.leaseRevoke({ ID: old });
    // Why it matters: with the mark gone, another host finds the job free and would start it.
    assert.equal((await b.claims.claim(skip('j', 2))).outcome, 'claimed');

    // The same, seen on a retry that recognises its own commit after the reply was lost.
    const first = await claims.claim(skip('k', 1));
    assert.equal(first.outcome === 'claimed' && first.busyMarkGone, undefined, 'a claim answered under its own lease keeps its mark');
    await a.client.leaseClient.leaseRevoke({ ID: held });
    held = await grant();
    const retried = await claims.claim(skip('k', 1));
    assert.deepEqual(retried, { outcome: 'claimed', fence: fenceOf(first), busyMarkGone: true });
    // A plain retry whose mark survived is just claimed.
    const kept = await claims.claim(skip('m', 1));
    assert.deepEqual(await claims.claim(skip('m', 1)), { outcome: 'claimed', fence: fenceOf(kept) });

    // A failover rerun's mark, taken outside a claim, the same way.
    const spare = await grant();
    const taking = claims.takeBusy('n', tick(1));
    held = spare;
    const took = await taking;
    assert.ok(took.taken && took.markGone, 'a mark taken under a lease replaced in flight is reported gone');
    const plain = await claims.takeBusy('p', tick(1));
    assert.ok(plain.taken && plain.markGone === undefined);
  });
});

test('EtcdCoordinator serves the Coordinator interface from etcd', async () => {
  await withNodes(single, ['a', 'b'], async ([a, b]) => {
    const ca = new EtcdCoordinator(a.claims);
    const cb = new EtcdCoordinator(b.claims);
    assert.equal(await ca.cursor('j'), null);
    assert.equal(await ca.advanceCursor('j', tick(1)), true);
    const claimed = await ca.claim(skip('j', 2));
    assert.equal(claimed.outcome, 'claimed');
    assert.equal((await cb.claim(skip('j', 3))).outcome, 'busy');
    await ca.releaseBusy('j', fenceOf(claimed));
    assert.equal((await cb.claim(skip('j', 4))).outcome, 'claimed');
    assert.ok((await cb.nextFence('j')) > fenceOf(claimed));
    assert.equal(await cb.cursor('j'), tick(4));
    await ca.close();
  });
});

test('claims stay exactly-once while members of a 3-member cluster restart', async (t) => {
  const cluster = trio;
  assert.ok(cluster);
  await withNodes(cluster, ['a', 'b', 'c'], async (nodes) => {
    const TICKS = 150;
    const winners = new Map<number, string[]>();
    const progress = nodes.map(() => 0);
    const retried = { errors: 0, unproven: 0 };
    const workers = nodes.map(async (n, k) => {
      for (let i = 0; i < TICKS; i++) {
        // Errors and unproven leases during the restart are retried, as the daemon would:
        // a retry of a claim that did commit must read it back, not lose or double it.
        const r = await waitFor(`${n.id} to decide tick ${i}`, async () => {
          const o = await n.claims.claim(once('restart', i)).catch((err: unknown) => {
            retried.errors++;
            throw err;
          });
          if (o.outcome === 'unproven') retried.unproven++;
          return o.outcome === 'unproven' ? false : o;
        }, 30_000, 20);
        if (r.outcome === 'claimed') winners.set(i, [...(winners.get(i) ?? []), n.id]);
        progress[k] = i;
      }
    });
    const reached = (i: number) => waitFor(`claims to reach tick ${i}`, () => Math.min(...progress) >= i, 30_000, 5);
    const chaos = (async () => {
      for (const [member, at] of [[0, 20], [1, 60], [2, 100]]) {
        await reached(at);
        await cluster.stopMember(member);
        await reached(at + 20);
        await cluster.startMember(member);
      }
    })();
    await Promise.all([...workers, chaos]);
    for (let i = 0; i < TICKS; i++) assert.equal(winners.get(i)?.length, 1, `tick ${i} claimed by ${JSON.stringify(winners.get(i))}`);
    t.diagnostic(`attempts retried during the restarts: ${JSON.stringify(retried)}`);
  });
});
