import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { NodeView } from '../../src/daemon/control/api-types.js';
import { cli, isAlive } from '../helpers/daemon-process.js';
import { ClusterFixture, queryEachNode } from '../helpers/cluster-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { ledgerWords } from '../helpers/ledger.js';

/**
 * A concurrency group of 2 across three hosts (`--group etl=2` on each) and
 * four of its jobs due at once, each running longer than the late grace:
 * per tick two run and two are recorded skipped, once each, naming the
 * group. Then the daemon of a host holding a permit is killed with SIGKILL:
 * its run dies with it (the job guard), its permit goes with its lease, and
 * the survivors run two per tick again. Judged from the jobs' own start
 * lines and the moments their processes were seen gone: there is no moment
 * with three of the group's runs alive, before or after the kill.
 */
const fx = new ClusterFixture();
const { ws, daemons } = fx;

interface Line {
  job: string;
  tickMs: number;
  host: string;
  pid: number;
  atMs: number;
}

const ledger = ws.path('ledger');
const readStarts = (): Line[] => ledgerWords(ledger).map(([job, tickMs, host, pid, atMs]) => ({ job, tickMs: Number(tickMs), host, pid: Number(pid), atMs: Number(atMs) }));

function skippedRecords(): Array<{ job: string; tickMs: number; message: string }> {
  return queryEachNode(daemons, "SELECT job, tick_ms AS tickMs, message FROM runs WHERE status = 'skipped'");
}

test('a group of 2 across three hosts never has 3 running, through kill -9 of a holder; the ticks without a permit are recorded once', { timeout: 150_000 }, async () => {
  const crontab = ws.path('crontab');
  // Every 10 s, each run 6 s: longer than the 5 s late grace, so no permit frees in time for the third and fourth.
  const line = (name: string) => `#dcron name=${name} group=etl\n*/10 * * * * * echo "${name} $DCRON_TICK_MS $DCRON_HOST $$ $(date +\\%s\\%3N)" >> ${ledger}; sleep 6`;
  writeFileSync(crontab, ['g1', 'g2', 'g3', 'g4'].map(line).join('\n') + '\n');
  const nodes = await fx.startNodes('groups', crontab, ['n1', 'n2', 'n3'], ['--group', 'etl=2', '--lease-ttl', '4s']);
  await waitFor('every daemon to see the others', async () => (await Promise.all(nodes.map((n) => n.call<NodeView[]>('nodes')))).every((v) => v.length === 3), 20_000);

  // When each run's process was last seen alive, polled often: a run's end is the first poll that finds it gone.
  const ended = new Map<number, number>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const s of readStarts()) if (!ended.has(s.pid) && !isAlive(s.pid)) ended.set(s.pid, Date.now());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  // Ticks every job of which ran or was recorded.
  const wholeTicks = () => {
    const starts = readStarts();
    const skipped = skippedRecords();
    const ticks = [...new Set(starts.map((s) => s.tickMs))].sort((a, b) => a - b);
    return ticks.filter((t) => starts.filter((s) => s.tickMs === t).length + skipped.filter((r) => r.tickMs === t).length === 4);
  };
  await waitFor('two whole ticks', () => wholeTicks().length >= 2, 60_000, 100);
  const status = await cli(['status'], { dataDir: nodes[0].dataDir });
  assert.match(status.stdout, /groups: +etl \d\/2 running \(4 jobs\)/, status.stdout);

  const beforeKill = wholeTicks().slice(0, 2);
  const skipped = skippedRecords();
  for (const tick of beforeKill) {
    assert.equal(readStarts().filter((s) => s.tickMs === tick).length, 2, `tick ${tick}: two of the group's four jobs ran`);
    const recorded = skipped.filter((r) => r.tickMs === tick);
    assert.equal(recorded.length, 2, `tick ${tick}: two jobs recorded, once each: ${JSON.stringify(recorded)}`);
    for (const r of recorded) assert.match(r.message, /^group etl is full: no host could take a permit within the late grace/);
    const ran = readStarts().filter((s) => s.tickMs === tick).map((s) => s.job);
    assert.ok(!recorded.some((r) => ran.includes(r.job)), 'a recorded job did not also run');
  }

  // Kill -9 the daemon of a host whose run holds a permit right now.
  const holder = await waitFor('a run in flight', () => readStarts().find((s) => isAlive(s.pid) && s.host !== 'n3'), 20_000, 20);
  const victim = nodes.find((n) => n.dataDir.endsWith(`-${holder.host}`))!;
  const killedAtMs = Date.now();
  await victim.stop('SIGKILL');
  // The survivors run two at once again: the dead host's permit came back with its lease.
  await waitFor('a later tick with two runs, on the survivors', () => {
    const starts = readStarts().filter((s) => s.atMs > killedAtMs + 4000);
    const byTick = new Map<number, number>();
    for (const s of starts) byTick.set(s.tickMs, (byTick.get(s.tickMs) ?? 0) + 1);
    return [...byTick.values()].some((n) => n === 2);
  }, 60_000, 100);
  watching = false;
  await watcher;
  await waitFor('every run seen ended', () => readStarts().every((s) => ended.has(s.pid) || !isAlive(s.pid)), 20_000, 50);

  const starts = readStarts();
  assert.ok(!starts.some((s) => s.host === holder.host && s.atMs > killedAtMs), 'nothing ran on the killed host after the kill');
  const once = new Set(starts.map((s) => `${s.job}@${s.tickMs}`));
  assert.equal(once.size, starts.length, 'no job ran a tick twice');
  // No moment with three alive: replay starts and ends in time order.
  const events = starts.flatMap((s) => [
    { atMs: s.atMs, delta: 1, what: `${s.job}@${s.tickMs} on ${s.host}` },
    { atMs: ended.get(s.pid) ?? Date.now(), delta: -1, what: '' },
  ]);
  events.sort((a, b) => a.atMs - b.atMs || a.delta - b.delta);
  let alive = 0;
  for (const e of events) {
    alive += e.delta;
    assert.ok(alive <= 2, `${alive} runs of group etl alive at ${e.atMs} (${e.what})`);
  }
});
