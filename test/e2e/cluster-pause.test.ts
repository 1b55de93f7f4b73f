import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { JobView } from '../../src/daemon/control/api-types.js';
import { cli } from '../helpers/daemon-process.js';
import { ClusterFixture, queryEachNode } from '../helpers/cluster-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { ledgerWords } from '../helpers/ledger.js';

/**
 * A pause taken on one host of three stops the job on all of them within a
 * second, judged from the job's own output: every later tick is recorded
 * `paused` once cluster-wide and runs nowhere; a resume from another host
 * runs the next tick.
 */
const fx = new ClusterFixture();
const { ws, daemons } = fx;

interface Ran {
  tickMs: number;
  host: string;
}

const ranFile = ws.path('ran');
const ran = (): Ran[] => ledgerWords(ranFile).map(([tickMs, host]) => ({ tickMs: Number(tickMs), host }));

/** Every node's records of the job, from its SQLite file. */
function records(job: string): Array<{ tickMs: number; status: string; host: string }> {
  return queryEachNode(daemons, 'SELECT tick_ms AS tickMs, status, host FROM runs WHERE job = ?', job);
}

test('pause on one host of three stops the job on all within a second; each tick is recorded paused once; resume from another host runs it again', { timeout: 90_000 }, async () => {
  const crontab = ws.path('crontab');
  writeFileSync(crontab, `#dcron name=beat\n* * * * * * echo "$DCRON_TICK_MS $DCRON_HOST" >> ${ranFile}\n`);
  const nodes = await fx.startNodes('pause', crontab);
  const [n1, n2, n3] = nodes;
  await waitFor('beat to run on the cluster', () => ran().length >= 3, 30_000, 50);

  const r = await cli(['pause', 'beat'], { dataDir: n2.dataDir });
  assert.equal(r.code, 0, r.stderr);
  const pausedAt = Date.now();
  // Within a second: a tick claimed before the pause reached every node may still start, none later.
  const covered = Math.ceil(pausedAt / 1000) * 1000 + 1000;
  for (const n of [n1, n3]) {
    await waitFor('the other nodes to list beat paused', async () => (await n.call<JobView[]>('ls')).find((j) => j.name === 'beat')?.paused?.by === 'n2', 1000, 10);
  }
  await waitFor('five ticks recorded paused', () => new Set(records('beat').filter((x) => x.status === 'paused' && x.tickMs >= covered).map((x) => x.tickMs)).size >= 5, 30_000, 100);

  const resumed = await cli(['resume', 'beat'], { dataDir: n3.dataDir });
  assert.equal(resumed.code, 0, resumed.stderr);
  const resumedAt = Date.now();
  await waitFor('beat to run again after the resume', () => ran().some((x) => x.tickMs > resumedAt + 1000), 30_000, 50);

  const lastPaused = Math.max(...records('beat').filter((x) => x.status === 'paused').map((x) => x.tickMs));
  const during = ran().filter((x) => x.tickMs >= covered && x.tickMs <= lastPaused);
  assert.deepEqual(during, [], 'no tick ran anywhere while paused');
  const pausedRecords = records('beat').filter((x) => x.status === 'paused');
  const byTick = new Map<number, string[]>();
  for (const p of pausedRecords) byTick.set(p.tickMs, [...(byTick.get(p.tickMs) ?? []), p.host]);
  for (const [tick, hosts] of byTick) assert.equal(hosts.length, 1, `tick ${tick} recorded paused on ${hosts.join(', ')}`);
  // Every second from the covered one to the last paused tick: recorded paused, on some host.
  for (let t = covered; t <= lastPaused; t += 1000) assert.ok(byTick.has(t) || ran().some((x) => x.tickMs === t), `tick ${t} neither ran nor was recorded`);
  const ticks = ran().map((x) => x.tickMs);
  assert.equal(new Set(ticks).size, ticks.length, 'no tick ran twice');
});
