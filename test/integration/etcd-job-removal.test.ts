import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import { silentLogger } from '../../src/daemon/log.js';
import { ClusterKeys } from '../../src/daemon/coordination/etcd/keys.js';
import { publishJobs, type PublishOptions } from '../../src/daemon/coordination/etcd/job-publisher.js';
import { TickClaims } from '../../src/daemon/coordination/etcd/tick-claims.js';

let etcd: EtcdCluster;
before(async () => { etcd = await EtcdCluster.start(1); });
after(async () => { await etcd?.stop(); });

const TTL = 2;

function jobs(names: string[]) {
  const text = names.map((n) => `#dcron name=${n}\n*/5 * * * * true\n`).join('');
  return parseCrontab(text, { file: '/etc/dcron/crontab', defaultTz: 'UTC' }).jobs;
}

function publishing(names: string[]): PublishOptions {
  return { nodeId: 'a', file: '/srv/a.cron', fileHash: 'h', jobs: jobs(names), hasErrors: false, log: silentLogger, retiredCursorTtlSeconds: TTL };
}

/** Every key under the cluster root, by what it belongs to: `kind/job`. */
async function keysByJob(c: Etcd3, keys: ClusterKeys): Promise<Map<string, Map<string, string>>> {
  const all = await c.getAll().prefix(keys.root).strings();
  const byJob = new Map<string, Map<string, string>>();
  for (const [key, value] of Object.entries(all)) {
    const [kind, job, ...rest] = key.slice(keys.root.length).split('/');
    if (!byJob.has(job)) byJob.set(job, new Map());
    byJob.get(job)!.set([kind, ...rest].join('/'), value);
  }
  return byJob;
}

const prove = { isProven: () => true, leaseId: () => '0' };

test('removing jobs deletes their claim keys with the record, the cursor after a grace; per-host cursors stay; other jobs untouched', async (t) => {
  const c = new Etcd3({ hosts: etcd.hosts });
  t.after(() => c.close());
  const keys = new ClusterKeys('removal');
  const names = Array.from({ length: 150 }, (_, i) => `job-${i}`);
  await publishJobs(c, keys, publishing(names));
  const [a, b] = [new TickClaims(c, keys, 'a', prove), new TickClaims(c, keys, 'b', prove)];
  for (const name of names) {
    assert.equal((await a.claim({ job: name, tickMs: 60_000, holdBusy: false, perHost: false })).outcome, 'claimed');
    assert.equal(await b.advanceCursor(name, 120_000, { perHost: true }), true);
    await a.nextFence(name);
  }
  const before = await keysByJob(c, keys);
  const removed = names.slice(0, 100);
  const kept = names.slice(100);

  const result = await publishJobs(c, keys, publishing(kept));
  assert.deepEqual(result.removed, [...removed].sort());

  const afterRemoval = await keysByJob(c, keys);
  // A per-host cursor stays: a job re-added within the claim lead must not claim a host's tick again.
  const left = (name: string, m: Map<string, Map<string, string>>) => [...(m.get(name)?.keys() ?? [])].sort();
  for (const name of removed) assert.deepEqual(left(name, afterRemoval), ['cursor', 'cursor-host/b'], name);
  for (const name of kept) assert.deepEqual(afterRemoval.get(name), before.get(name), name);

  // The cursor still stops a late claim of the tick already claimed.
  assert.equal((await b.claim({ job: removed[0], tickMs: 60_000, holdBusy: false, perHost: false })).outcome, 'taken');

  await waitFor('retired cursors expired', async () => {
    const now = await keysByJob(c, keys);
    return removed.every((name) => left(name, now).join() === 'cursor-host/b') && now;
  }, 15_000, 200);
  const end = await keysByJob(c, keys);
  for (const name of kept) assert.deepEqual(end.get(name), before.get(name), name);
  assert.equal(end.get('')?.size ?? 0, 0);
});

test('a job re-added before its cursor expires keeps that cursor, for good', async (t) => {
  const c = new Etcd3({ hosts: etcd.hosts });
  t.after(() => c.close());
  const keys = new ClusterKeys('readd');
  await publishJobs(c, keys, publishing(['j', 'other']));
  const a = new TickClaims(c, keys, 'a', prove);
  assert.equal((await a.claim({ job: 'j', tickMs: 60_000, holdBusy: false, perHost: false })).outcome, 'claimed');
  await publishJobs(c, keys, publishing(['other']));
  const retired = (await c.kv.range({ key: Buffer.from(keys.cursor('j')) })).kvs[0];
  assert.notEqual(retired.lease, '0');

  await publishJobs(c, keys, publishing(['j', 'other']));
  const readded = (await c.kv.range({ key: Buffer.from(keys.cursor('j')) })).kvs[0];
  assert.equal(readded.lease, '0');
  assert.equal(readded.value.toString(), retired.value.toString());
  // Past the retired lease's expiry, the cursor is still there: the tick claimed before removal stays claimed.
  await waitFor('the retired lease expired', async () => {
    const res = await c.leaseClient.leaseTimeToLive({ ID: retired.lease });
    return Number(res.TTL) === -1;
  }, 15_000, 200);
  assert.equal(await c.get(keys.cursor('j')).string(), retired.value.toString());

});
