import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { ClusterFixture } from '../helpers/cluster-fixture.js';
import { untilClock, waitFor } from '../helpers/wait.js';

/**
 * What a cluster asks of etcd, counted by etcd itself (its /metrics): the
 * per-job and per-tick requests that made first sync take minutes and three
 * daemons fall behind one (docs/BENCHMARKS.md) must not come back.
 */

const fx = new ClusterFixture();
const { ws, daemons } = fx;

/** Unary requests etcd has begun serving, all methods together. */
async function etcdRequests(): Promise<number> {
  const text = await (await fetch(`${fx.etcd.members[0].clientUrl}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^grpc_server_started_total\{[^}]*grpc_type="unary"\} (\d+)/gm)) total += Number(m[1]);
  return total;
}

function launch(cluster: string, id: string, crontab: string | null): Promise<DaemonProcess> {
  const args = ['--etcd', fx.etcd.endpoints, '--cluster', cluster, '--node-id', id, '--lease-ttl', '5s', ...(crontab ? ['--crontab', crontab] : [])];
  return DaemonProcess.launch({ dataDir: ws.path(`${cluster}-${id}`), args }).then((d) => {
    daemons.push(d);
    return d;
  });
}

test('first sync of 3,000 jobs: a few hundred etcd requests, not one or two per job; new jobs\' cursors written in batches', async (t) => {
  const dir = ws.path('boot');
  mkdirSync(dir, { recursive: true });
  const crontab = join(dir, 'crontab');
  // Daily jobs: nothing comes due while the test runs.
  writeFileSync(crontab, Array.from({ length: 3000 }, (_, i) => `#dcron name=job-${i}\n${i % 60} ${i % 24} * * * echo ${i}\n`).join(''));
  const before = await etcdRequests();
  const publisher = await launch('boot', 'p1', crontab);
  const follower = await launch('boot', 'f1', null);
  // Each new job's cursor records where it started (a tick missed while every daemon is down is then caught up).
  const c = new Etcd3({ hosts: fx.etcd.hosts });
  try {
    await waitFor('every new job to have its cursor', async () => (await c.getAll().prefix('/dcron/boot/cursor/').count()) === 3000, 20_000);
  } finally {
    c.close();
  }
  const used = (await etcdRequests()) - before;
  t.diagnostic(`${used} etcd requests for two daemons to load 3,000 jobs and create their cursors`);
  assert.ok(used < 600, `${used} etcd requests for two daemons to load 3,000 jobs`);
  const [a, b] = await Promise.all([publisher.call<{ jobs: number }>('status'), follower.call<{ jobs: number }>('status')]);
  assert.deepEqual([a.jobs, b.jobs], [3000, 3000]);
});

test('three daemons, 20 every-second jobs: every tick once, with about one etcd request per tick', async (t) => {
  const dir = ws.path('steady');
  mkdirSync(dir, { recursive: true });
  const ledger = join(dir, 'ledger');
  const crontab = join(dir, 'crontab');
  writeFileSync(crontab, Array.from({ length: 20 }, (_, i) => `#dcron name=job-${i}\n* * * * * * echo "$DCRON_JOB $DCRON_TICK_MS $DCRON_HOST" >> ${ledger}\n`).join(''));
  const nodes = [await launch('steady', 'n1', crontab), await launch('steady', 'n2', null), await launch('steady', 'n3', null)];
  await waitFor('every job to have run', () => existsSync(ledger) && new Set(readFileSync(ledger, 'utf8').split('\n').map((l) => l.split(' ')[0])).size >= 21, 20_000);

  const fromMs = Math.ceil((Date.now() + 1000) / 1000) * 1000;
  await untilClock(fromMs);
  const before = await etcdRequests();
  const toMs = fromMs + 10_000;
  await untilClock(toMs);
  const used = (await etcdRequests()) - before;
  await untilClock(toMs + 2000);
  await Promise.all(nodes.map((n) => n.stop()));

  const ran = new Map<string, string[]>();
  for (const line of readFileSync(ledger, 'utf8').trim().split('\n')) {
    const [job, tick, host] = line.split(' ');
    ran.set(`${job}@${tick}`, [...(ran.get(`${job}@${tick}`) ?? []), host]);
  }
  for (let i = 0; i < 20; i++) {
    for (let t = fromMs; t < toMs; t += 1000) assert.equal(ran.get(`job-${i}@${t}`)?.length, 1, `job-${i} tick ${t}: ${JSON.stringify(ran.get(`job-${i}@${t}`))}`);
  }
  // Before: a claim per node and tick, a running/ put, a finish, a trim read and a busy release per
  // run (about 7 per tick). Now: claims and run records batched per node and second, plus each
  // node's registry refresh (2 a second).
  const perTick = used / (20 * 10);
  t.diagnostic(`${used} etcd requests for 200 ticks (${perTick.toFixed(2)} per tick)`);
  assert.ok(perTick < 2, `${used} etcd requests for 200 ticks (${perTick.toFixed(2)} per tick)`);
});
