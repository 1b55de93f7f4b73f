import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { NodeView } from '../../src/daemon/control/api-types.js';
import { cli } from '../helpers/daemon-process.js';
import { ClusterFixture, queryEachNode } from '../helpers/cluster-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { ledgerWords } from '../helpers/ledger.js';

/**
 * Three hosts with `--slots 1` and four jobs due at the same instant, each
 * running longer than the late grace: a full host passes its tick on to
 * the next in rendezvous order, so three run (one per host) and the fourth
 * is recorded skipped, once, naming the reason. Judged from the jobs' own
 * start and end lines: no host ever runs two at once.
 */
const fx = new ClusterFixture();
const { ws, daemons } = fx;

interface Line {
  kind: 'start' | 'end';
  job: string;
  tickMs: number;
  host: string;
  atMs: number;
}

const ledger = ws.path('ledger');
const readLedger = (): Line[] => ledgerWords(ledger).map(([kind, job, tickMs, host, atMs]) => ({ kind: kind as Line['kind'], job, tickMs: Number(tickMs), host, atMs: Number(atMs) }));

function skippedRecords(): Array<{ job: string; tickMs: number; host: string; message: string; fence: number | null }> {
  return queryEachNode(daemons, "SELECT job, tick_ms AS tickMs, host, message, fence FROM runs WHERE status = 'skipped'");
}

test('three hosts with --slots 1, four jobs due at once: three run, one per host, and one is recorded skipped: no free slot on any host', { timeout: 120_000 }, async () => {
  const now = 'date +\\%s\\%3N';
  const crontab = ws.path('crontab');
  // Every 15 s, each run 8 s: longer than the 5 s late grace, so no slot frees in time for the fourth.
  const line = (name: string) => `#dcron name=${name}\n*/15 * * * * * echo "start ${name} $DCRON_TICK_MS $DCRON_HOST $(${now})" >> ${ledger}; sleep 8; echo "end ${name} $DCRON_TICK_MS $DCRON_HOST $(${now})" >> ${ledger}`;
  writeFileSync(crontab, ['j1', 'j2', 'j3', 'j4'].map(line).join('\n') + '\n');
  const nodes = await fx.startNodes('slots', crontab, ['n1', 'n2', 'n3'], ['--slots', '1']);
  await waitFor('every daemon to see the others', async () => (await Promise.all(nodes.map((n) => n.call<NodeView[]>('nodes')))).every((v) => v.length === 3), 20_000);

  // Two whole ticks, every job started or recorded.
  const settledTicks = () => {
    const starts = readLedger().filter((l) => l.kind === 'start');
    const skipped = skippedRecords();
    const ticks = [...new Set(starts.map((s) => s.tickMs))].sort((a, b) => a - b);
    return ticks.filter((t) => starts.filter((s) => s.tickMs === t).length + skipped.filter((r) => r.tickMs === t).length === 4);
  };
  await waitFor('the first whole tick', () => settledTicks().length >= 1, 60_000, 100);
  // While the first tick's runs go on, every node shows its one slot taken.
  const shown = await cli(['nodes'], { dataDir: nodes[0].dataDir });
  assert.match(shown.stdout, /SLOTS/);
  assert.equal((shown.stdout.match(/ 1\/1 /g) ?? []).length, 3, shown.stdout);
  // And the figures requires= compares, from each node's own record.
  assert.match(shown.stdout, /SLOTS +MEM FREE +LOAD +DISK FREE/);
  const views = await nodes[0].call<NodeView[]>('nodes');
  assert.ok(views.every((v) => v.figures !== null && v.figures.memFreeBytes > 0 && v.figures.diskFreeBytes !== null), JSON.stringify(views.map((v) => v.figures)));
  await waitFor('two whole ticks', () => settledTicks().length >= 2, 60_000, 100);

  const lines = readLedger();
  const skipped = skippedRecords();
  for (const tick of settledTicks().slice(0, 2)) {
    const starts = lines.filter((l) => l.kind === 'start' && l.tickMs === tick);
    assert.equal(starts.length, 3, `tick ${tick}: ${JSON.stringify(starts)}`);
    assert.deepEqual(new Set(starts.map((s) => s.host)), new Set(['n1', 'n2', 'n3']), `tick ${tick}: one run per host`);
    const recorded = skipped.filter((r) => r.tickMs === tick);
    assert.equal(recorded.length, 1, `tick ${tick}: one job recorded, once: ${JSON.stringify(recorded)}`);
    assert.match(recorded[0].message, /no free slot on any host/);
    assert.notEqual(recorded[0].fence, null, 'claimed, so recorded by one host');
    assert.ok(!starts.some((s) => s.job === recorded[0].job), 'the recorded job did not also run');
  }
  // No moment where a host runs two: per host, each start comes after the previous end.
  for (const host of ['n1', 'n2', 'n3']) {
    const runs = lines.filter((l) => l.host === host).sort((a, b) => a.atMs - b.atMs);
    let open = 0;
    for (const l of runs) {
      open += l.kind === 'start' ? 1 : -1;
      assert.ok(open <= 1, `${host} ran ${open} jobs at once at ${l.atMs}`);
    }
  }
});
