import type { RunRecorder } from '../../src/daemon/runlog/run-recorder.js';
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Range, type Etcd3 } from 'etcd3';
import { FailoverWatcher } from '../../src/daemon/cluster/failover.js';
import { parseSummary, type RunSummary } from '../../src/daemon/cluster/run-reporter.js';
import { PrefixMirror } from '../../src/daemon/coordination/etcd/prefix-mirror.js';
import { TickClaims, type FailoverMarkerOptions } from '../../src/daemon/coordination/etcd/tick-claims.js';
import { TxnBatcher } from '../../src/daemon/coordination/etcd/txn-batcher.js';
import type { ClusterKeys } from '../../src/daemon/coordination/etcd/keys.js';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { JobDefinition } from '../../src/daemon/crontab/types.js';
import type { Executor, TickRun } from '../../src/daemon/executor/executor.js';
import { silentLogger } from '../../src/daemon/log.js';
import { HostCapacity } from '../../src/daemon/ticks/host-capacity.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { closeAll, freshKeys, startNode, type TestNode } from '../helpers/etcd-node.js';
import { withSilentWatches } from '../helpers/etcd-watch-faults.js';
import { waitFor } from '../helpers/wait.js';

let etcd: EtcdCluster;

before(async () => {
  etcd = await EtcdCluster.start(1);
});

after(async () => {
  await etcd?.stop();
});

/** Short-lived markers, so the test sees them go; the reasoning holds for any window below the lease TTL. */
const SHORT: FailoverMarkerOptions = { windowMs: 1_000, leaseTtlSeconds: 3 };

const failoverPrefix = (keys: ClusterKeys): string => `${keys.root}failover/`;

async function markers(c: Etcd3, keys: ClusterKeys): Promise<Array<{ key: string; lease: string }>> {
  const range = Range.prefix(failoverPrefix(keys));
  const res = await c.kv.range({ key: range.start, range_end: range.end });
  return res.kvs.map((kv) => ({ key: kv.key.toString(), lease: String(kv.lease) }));
}

async function withNodes(t: TestContext, ids: string[], fn: (nodes: TestNode[], keys: ClusterKeys) => Promise<void>): Promise<void> {
  const keys = freshKeys();
  const nodes: TestNode[] = [];
  try {
    for (const id of ids) nodes.push(await startNode(etcd.hosts, keys, id));
    await fn(nodes, keys);
  } finally {
    await closeAll(nodes);
  }
}

test('1,000 failovers claimed by two racing nodes: one winner each; their markers expire by themselves, a crashed winner\'s too', async (t) => {
  await withNodes(t, ['a', 'b'], async (nodes, keys) => {
    const claims = nodes.map((n) => new TickClaims(n.client, keys, n.id, n.lease, new TxnBatcher(n.client), SHORT));
    const T0 = Date.UTC(2030, 0, 1);
    const jobOf = (i: number) => `job-${i % 10}`;
    const tickOf = (i: number) => T0 + i * 1000;
    const outcomes = await Promise.all(claims.map((c) => Promise.all(Array.from({ length: 1000 }, (_, i) => c.claimFailover(jobOf(i), tickOf(i))))));
    for (let i = 0; i < 1000; i++) {
      const won = outcomes.filter((o) => o[i] !== null);
      assert.equal(won.length, 1, `tick ${i}: ${JSON.stringify(outcomes.map((o) => o[i]))}`);
    }
    const winner = outcomes[0][7] !== null ? 0 : 1;
    assert.equal(await claims[1 - winner].claimFailover(jobOf(7), tickOf(7)), null, 'a marker there refuses another node\'s later claim of the tick');
    // A retried request (its first reply lost) is recognised as the winner's own commit.
    assert.deepEqual(await claims[winner].claimFailover(jobOf(7), tickOf(7)), outcomes[winner][7]);

    const present = await markers(nodes[0].client, keys);
    assert.equal(present.length, 1000);
    const leases = new Set(present.map((m) => m.lease));
    assert.ok(!leases.has('0'), 'every marker is under a lease');
    assert.ok(leases.size <= 2, `claims share a lease per node: ${leases.size} leases`);
    t.diagnostic(`1,000 markers under ${leases.size} leases`);

    // The winner of half of them crashes: nothing of it is left to delete its markers.
    nodes[0].client.close();
    const deadline = Date.now() + SHORT.leaseTtlSeconds * 1000 + 10_000;
    await waitFor('every failover marker to be gone', async () => (await markers(nodes[1].client, keys)).length === 0, deadline - Date.now(), 200);
  });
});

/** A crontab job with failover=rerun; overlap=allow, so no busy mark is involved. */
function rerunJob(): JobDefinition {
  const { jobs, diagnostics } = parseCrontab('#dcron name=long failover=rerun overlap=allow\n* * * * * sleep 60\n', { file: '/test/crontab', defaultTz: 'UTC' });
  assert.deepEqual(diagnostics, []);
  return jobs[0];
}

interface Survivor {
  submitted: TickRun[];
  /** Reruns recorded skipped: why. */
  skipped: string[];
  /** Answers to this node's failover claims, in order. */
  claimed: Array<{ fence: number } | null>;
  /** Answers to "did the run finish?", in order. */
  finished: boolean[];
  watcher: FailoverWatcher;
  mirror: PrefixMirror<RunSummary | null>;
}

/** A node's failover watcher as ClusterRuntime wires it, with an executor that only records what it is given. */
function survivor(t: TestContext, node: TestNode, keys: ClusterKeys, job: JobDefinition, opts: { client?: Etcd3; relistIntervalMs: number; capacity?: HostCapacity }): Survivor {
  const claims = new TickClaims(node.client, keys, node.id, node.lease, new TxnBatcher(node.client), SHORT);
  const submitted: TickRun[] = [];
  const claimed: Survivor['claimed'] = [];
  const finished: boolean[] = [];
  const skipped: string[] = [];
  const executor = {
    submit: (run: TickRun) => {
      submitted.push(run);
      return { kind: 'started', runId: 'r' };
    },
  } as unknown as Executor;
  const recorder = {
    skipped: (_tick: unknown, why: string) => (opts.capacity ? skipped.push(why) : assert.fail(`no rerun is skipped here: ${why}`)),
    lost: () => assert.fail('no rerun is lost here'),
  } as unknown as RunRecorder;
  const mirror = new PrefixMirror<RunSummary | null>({ client: opts.client ?? node.client, prefix: keys.runningPrefix(), decode: (kv) => parseSummary(kv.value.toString()), what: 'failover run', log: silentLogger, relistIntervalMs: opts.relistIntervalMs });
  const watcher = new FailoverWatcher({
    nodeId: node.id,
    log: silentLogger,
    executor,
    recorder,
    job: (name) => (name === job.name ? job : undefined),
    running: mirror,
    finished: async (j, runId) => {
      const answer = (await node.client.get(keys.run(j, runId)).string()) !== null;
      finished.push(answer);
      return answer;
    },
    eligible: () => true,
    holdSlots: (j) => (opts.capacity ?? new HostCapacity(0, () => 0)).hold(j.options.slots),
    groupPermit: async () => ({ ok: true, permit: null }),
    mayAct: () => node.lease.isProven(),
    claimFailover: async (j, tickMs) => {
      const answer = await claims.claimFailover(j, tickMs);
      claimed.push(answer);
      return answer;
    },
    windowMs: claims.failoverMarkers.windowMs,
    takeBusy: (j, tickMs) => claims.takeBusy(j, tickMs),
  });
  t.after(() => watcher.stop());
  return { submitted, skipped, claimed, finished, watcher, mirror };
}

function summary(job: string, host: string, tickMs: number): RunSummary {
  return { id: `${tickMs}-${host}`, job, tickMs, trigger: 'schedule', attempt: 1, fence: 1, host, status: 'running', startedMs: tickMs, endedMs: null, exitCode: null, signal: null, outputBytes: 0, truncated: false, message: null, shard: null, shards: null };
}

/** Survivors started: the first learns only by re-listing (its watch is silent), the others by their watch. */
async function survivors(t: TestContext, keys: ClusterKeys, job: JobDefinition, [quiet, ...live]: TestNode[]): Promise<Survivor[]> {
  const all = [survivor(t, quiet, keys, job, { client: withSilentWatches(quiet.client), relistIntervalMs: 250 }), ...live.map((n) => survivor(t, n, keys, job, { relistIntervalMs: 60_000 }))];
  await Promise.all(all.map((s) => s.watcher.start()));
  return all;
}

/** `host`'s run of the job's tick, its running/ key under `host`'s lease, once every survivor has it in its copy. */
async function runOn(host: TestNode, keys: ClusterKeys, job: JobDefinition, tickMs: number, seenBy: Survivor[]): Promise<{ run: RunSummary; runningKey: string }> {
  const run = summary(job.name, host.id, tickMs);
  const runningKey = keys.running(job.name, run.id);
  await host.lease.putWithLease(runningKey, JSON.stringify(run));
  await waitFor('every survivor to have the run in its copy', () => seenBy.every((s) => s.mirror.get(runningKey) !== undefined), 5_000);
  return { run, runningKey };
}

test('a host that dies while a survivor\'s watch is silent is found by its re-list: the tick is rerun once, by one of the survivors', async (t) => {
  await withNodes(t, ['dead', 'quiet', 'live'], async ([dead, ...others], keys) => {
    const job = rerunJob();
    const all = await survivors(t, keys, job, others);
    const { run } = await runOn(dead, keys, job, Date.UTC(2030, 0, 1), all);
    // Revoking the dead host's lease removes its running/ key, as its lease expiring would.
    await dead.lease.stop();
    await waitFor('both survivors to have claimed the rerun', () => all.every((s) => s.claimed.length === 1), 5_000);
    assert.deepEqual(all.map((s) => s.claimed[0] !== null).sort(), [false, true], 'one claim won');
    const reruns = all.flatMap((s) => s.submitted);
    assert.equal(reruns.length, 1, 'exactly one survivor reruns it');
    assert.deepEqual([reruns[0].tickMs, reruns[0].trigger], [run.tickMs, 'failover']);
    assert.ok(reruns[0].fence > 0);
  });

  await withNodes(t, ['dead', 'quiet'], async ([dead, quiet], keys) => {
    // Alone, the survivor whose watch is silent still reruns the tick: the re-list reports the vanished key as a delete.
    const job = rerunJob();
    const [q] = await survivors(t, keys, job, [quiet]);
    const { run } = await runOn(dead, keys, job, Date.UTC(2030, 0, 2), [q]);
    await dead.lease.stop();
    await waitFor('the rerun', () => q.submitted.length === 1, 5_000);
    assert.deepEqual([q.submitted[0].tickMs, q.submitted[0].trigger], [run.tickMs, 'failover']);
  });
});

/** A host dies mid-run with a survivor whose slots are `capacity`: what the survivor did with the rerun. */
async function rerunWithSlots(t: TestContext, capacity: HostCapacity, tickMs: number, until: (s: Survivor) => boolean): Promise<Survivor> {
  let out: Survivor | undefined;
  await withNodes(t, ['dead', 'survivor'], async ([dead, node], keys) => {
    const job = rerunJob();
    const s = survivor(t, node, keys, job, { relistIntervalMs: 60_000, capacity });
    await s.watcher.start();
    await runOn(dead, keys, job, tickMs, [s]);
    await dead.lease.stop();
    await waitFor('the survivor to act on the rerun', () => until(s), 5_000);
    out = s;
  });
  return out!;
}

test('a failover rerun takes its slots of the host\'s --slots: a survivor without room records it skipped and runs nothing; one with room runs it and gives the held slots to the run', async (t) => {
  // Two slots, both taken by runs here (as the executor would count them).
  const full = new HostCapacity(2, () => 2);
  const skipped = await rerunWithSlots(t, full, Date.UTC(2030, 0, 4), (s) => s.skipped.length === 1);
  assert.deepEqual(skipped.submitted, []);
  assert.equal(skipped.skipped[0], 'failover rerun skipped: no free slot on this host: 2 of its 2 slots in use, the job needs 1');
  assert.equal(full.used(), 2, 'nothing held');
  const roomy = new HostCapacity(2, () => 1);
  const ran = await rerunWithSlots(t, roomy, Date.UTC(2030, 0, 5), (s) => s.submitted.length === 1);
  assert.deepEqual(ran.skipped, []);
  assert.equal(roomy.used(), 1, 'the held slot is released once the executor has the run');
});

test('a run that finished (its summary written with the delete) is not rerun, whether the watch or a re-list sees it go', async (t) => {
  await withNodes(t, ['host', 'quiet', 'live'], async ([host, ...others], keys) => {
    const job = rerunJob();
    const all = await survivors(t, keys, job, others);
    const { run, runningKey } = await runOn(host, keys, job, Date.UTC(2030, 0, 3), all);
    const { client } = host;
    await client.if(runningKey, 'Create', '>', 0).then(client.put(keys.run(job.name, run.id)).value(JSON.stringify({ ...run, status: 'ok' })), client.delete().key(runningKey)).commit();
    await waitFor('both survivors to have looked at the run\'s end', () => all.every((s) => s.finished.length === 1), 5_000);
    assert.deepEqual(all.map((s) => s.finished[0]), [true, true], 'both found its summary');
    assert.deepEqual(all.map((s) => [s.claimed.length, s.submitted.length]), [[0, 0], [0, 0]], 'nobody claimed or ran it');
    assert.deepEqual(await markers(client, keys), []);
  });
});
