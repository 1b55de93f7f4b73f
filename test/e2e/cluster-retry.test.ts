import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { NodeView } from '../../src/daemon/control/api-types.js';
import { ClusterFixture, queryEachNode } from '../helpers/cluster-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { ledgerWords } from '../helpers/ledger.js';

/**
 * retry-elsewhere=true on three real daemons: a job that always fails, with
 * two retries, runs each tick's three attempts on three different hosts,
 * each attempt once, judged from the job's own lines and every node's run
 * records. A job without the option retries where it failed.
 */
const fx = new ClusterFixture();
const { ws, daemons } = fx;

interface Attempt {
  job: string;
  tickMs: number;
  attempt: number;
  host: string;
}

const ledger = ws.path('ledger');
const readAttempts = (): Attempt[] => ledgerWords(ledger).map(([job, tickMs, attempt, host]) => ({ job, tickMs: Number(tickMs), attempt: Number(attempt), host }));

test('retry-elsewhere: each retry of a failing tick runs once, on a host that has not tried it; without it, retries stay', { timeout: 120_000 }, async () => {
  const crontab = ws.path('crontab');
  const line = (name: string, extra: string) => `#dcron name=${name} retries=2 retry-delay=0s ${extra}\n*/10 * * * * * echo "${name} $DCRON_TICK_MS $DCRON_ATTEMPT $DCRON_HOST" >> ${ledger}; exit 1`;
  writeFileSync(crontab, [line('moving', 'retry-elsewhere=true'), line('staying', '')].join('\n') + '\n');
  const nodes = await fx.startNodes('retry', crontab, ['n1', 'n2', 'n3']);
  await waitFor('every daemon to see the others', async () => (await Promise.all(nodes.map((n) => n.call<NodeView[]>('nodes')))).every((v) => v.length === 3), 20_000);

  const wholeTicks = (job: string) => {
    const attempts = readAttempts().filter((a) => a.job === job);
    return [...new Set(attempts.map((a) => a.tickMs))].filter((t) => attempts.filter((a) => a.tickMs === t).length >= 3).sort((a, b) => a - b);
  };
  await waitFor('two ticks of both jobs with all three attempts', () => wholeTicks('moving').length >= 2 && wholeTicks('staying').length >= 2, 60_000, 100).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; the jobs' lines: ${JSON.stringify(readAttempts())}`);
  });
  // Every record of the two ticks has been written by the time the last attempt's line is: give the last records a moment via polling.
  const ticks = wholeTicks('moving').slice(0, 2);
  const records = () => queryEachNode<{ job: string; tickMs: number; attempt: number; host: string; trigger: string; status: string }>(daemons, "SELECT job, tick_ms AS tickMs, attempt, host, trigger, status FROM runs WHERE job = 'moving'");
  await waitFor('every attempt recorded as ended', () => ticks.every((t) => records().filter((r) => r.tickMs === t && r.status === 'failed').length === 3), 20_000, 50);

  for (const tick of ticks) {
    const attempts = readAttempts().filter((a) => a.job === 'moving' && a.tickMs === tick);
    assert.deepEqual(attempts.map((a) => a.attempt).sort(), [1, 2, 3], `tick ${tick}: each attempt once: ${JSON.stringify(attempts)}`);
    assert.equal(new Set(attempts.map((a) => a.host)).size, 3, `tick ${tick}: three attempts on three hosts: ${JSON.stringify(attempts)}`);
    const recorded = records().filter((r) => r.tickMs === tick);
    assert.equal(recorded.length, 3, `tick ${tick}: three records cluster-wide: ${JSON.stringify(recorded)}`);
    for (const r of recorded) {
      assert.equal(r.host, attempts.find((a) => a.attempt === r.attempt)!.host, 'each record is on the host that ran the attempt');
      assert.equal(r.trigger, r.attempt === 1 ? 'schedule' : 'retry');
    }
  }
  for (const tick of wholeTicks('staying').slice(0, 2)) {
    const attempts = readAttempts().filter((a) => a.job === 'staying' && a.tickMs === tick);
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts.map((a) => a.host)).size, 1, `without retry-elsewhere every attempt stays on one host: ${JSON.stringify(attempts)}`);
  }
});
