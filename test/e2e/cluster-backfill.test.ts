import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { JobView } from '../../src/daemon/control/api-types.js';
import { cli } from '../helpers/daemon-process.js';
import { ClusterFixture } from '../helpers/cluster-fixture.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The same range backfilled from two hosts of three at once: each tick runs
 * once cluster-wide (the create-once `backfill/UNIT/TICK16` key), judged
 * from the job's own output, and the two summaries add up to the range.
 */
const fx = new ClusterFixture();
const { ws } = fx;

const ranFile = ws.path('ran');
const ran = (): string[] => (existsSync(ranFile) ? readFileSync(ranFile, 'utf8').split('\n').filter(Boolean) : []);
const HOUR = 3_600_000;

test('backfill of one range from two hosts at once runs each tick once cluster-wide', { timeout: 90_000 }, async () => {
  const crontab = ws.path('crontab');
  // Hourly: no tick comes due on schedule in the range while the test runs; a short sleep keeps the two backfills overlapping.
  writeFileSync(crontab, `#dcron name=rep\n0 * * * * echo "$DCRON_TRIGGER $DCRON_TICK_MS $DCRON_HOST" >> ${ranFile}; sleep 0.1\n`);
  const nodes = await fx.startNodes('backfill', crontab);
  for (const n of nodes) await waitFor('every node to list rep', async () => (await n.call<JobView[]>('ls')).some((j) => j.name === 'rep'), 30_000, 50);

  const to = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const from = to - 11 * HOUR;
  const range = ['--from', new Date(from).toISOString(), '--to', new Date(to).toISOString()];
  const [a, b] = await Promise.all([nodes[0], nodes[1]].map((n) => cli(['backfill', 'rep', ...range], { dataDir: n.dataDir, timeoutMs: 60_000 })));
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);

  const ticks = ran().map((l) => l.split(' '));
  assert.ok(ticks.every(([trigger]) => trigger === 'backfill'), ran().join('\n'));
  const expected = Array.from({ length: 12 }, (_, i) => String(from + i * HOUR));
  assert.deepEqual(ticks.map(([, tick]) => tick).sort(), expected.sort(), 'each tick ran exactly once');
  const okOf = (out: string) => Number(/rep: (\d+) ran ok, 0 failed, (\d+) refused/.exec(out)?.[1]);
  const refusedOf = (out: string) => Number(/rep: \d+ ran ok, 0 failed, (\d+) refused/.exec(out)?.[1]);
  assert.equal(okOf(a.stdout) + okOf(b.stdout), 12, a.stdout + b.stdout);
  assert.equal(refusedOf(a.stdout) + refusedOf(b.stdout), 12, a.stdout + b.stdout);

  // A third host, later: every tick refused, as the claim keys are cluster-wide.
  const c = await cli(['backfill', 'rep', ...range], { dataDir: nodes[2].dataDir, timeoutMs: 60_000 });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /rep: 0 ran ok, 0 failed, 12 refused/);
  assert.equal(ran().length, 12);
});
