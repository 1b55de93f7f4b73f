import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { NodeView } from '../../src/daemon/control/api-types.js';
import { cli } from '../helpers/daemon-process.js';
import { ClusterFixture, queryEachNode } from '../helpers/cluster-fixture.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `dcron run` asked on a node a job's hosts= selector leaves out: the run
 * goes to a node the selector admits, every time (the asking node used to
 * count itself among the candidates whatever the selector said).
 */
const fx = new ClusterFixture();
const { ws, daemons } = fx;

test('dcron run of a job pinned to n2, asked on n1, runs on n2 every time', { timeout: 90_000 }, async () => {
  const crontab = ws.path('crontab');
  writeFileSync(crontab, '#dcron name=pinned hosts=n2 overlap=allow\n0 0 1 1 * true\n');
  const nodes = await fx.startNodes('manual', crontab, ['n1', 'n2']);
  await waitFor('both daemons to see each other', async () => (await Promise.all(nodes.map((n) => n.call<NodeView[]>('nodes')))).every((v) => v.length === 2), 20_000);
  const asks = 8;
  for (let i = 0; i < asks; i++) {
    const started = await cli(['run', 'pinned'], { dataDir: nodes[0].dataDir });
    assert.equal(started.code, 0, started.stderr);
  }
  const runs = () => queryEachNode<{ host: string }>(daemons, "SELECT host FROM runs WHERE job = 'pinned' AND trigger = 'manual'");
  await waitFor('every manual run recorded', () => runs().length === asks, 20_000);
  assert.deepEqual([...new Set(runs().map((r) => r.host))], ['n2']);
});
