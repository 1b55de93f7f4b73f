import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { JobView, StatusView } from '../../src/daemon/control/api-types.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `dcron pause` / `dcron resume` on one host, through the CLI as an
 * operator types them, judged from the job's own output file: while
 * paused no tick runs and each is recorded `paused`; the pause outlives a
 * reload and a restart; resume runs the next tick.
 */
const ws = new Workspace();
let daemon: DaemonProcess | undefined;
after(async () => {
  await daemon?.stop();
  ws.cleanup();
});

const ran = ws.path('ran');
const crontab = (extra = '') => `#dcron name=beat\n* * * * * * echo "$DCRON_TICK_MS" >> ${ran}\n#dcron name=other\n0 0 1 1 * true\n${extra}`;
const ticksRun = (): number[] => (existsSync(ran) ? readFileSync(ran, 'utf8').split('\n').filter(Boolean).map(Number) : []);
const dcron = (...args: string[]) => cli(args, { dataDir: ws.dataDir });
const history = async (): Promise<RunRecord[]> => (await daemon!.call<RunRecord[]>('history', { job: 'beat', limit: 1000 })).sort((a, b) => a.tickMs - b.tickMs);

test('pause records every tick paused and runs none, survives reload and restart, and resume runs the next tick', { timeout: 60_000 }, async () => {
  ws.writeCrontab(crontab());
  daemon = await DaemonProcess.start(ws, ['--metrics', '127.0.0.1:0']);
  await waitFor('beat to run', () => ticksRun().length >= 1);

  const paused = await dcron('pause', 'beat');
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(paused.stdout, /paused beat until `dcron resume beat`/);
  const pausedAt = Date.now();
  // Ticks claimed before the pause (the claim lead) may still start: from the next second on, none.
  const firstCovered = Math.ceil(pausedAt / 1000) * 1000 + 1000;
  await waitFor('three ticks recorded paused', async () => (await history()).filter((r) => r.status === 'paused').length >= 3);

  const ls = await dcron('ls');
  assert.match(ls.stdout, /^beat +\S.* paused /m, ls.stdout);
  assert.match(ls.stdout, /recorded paused, not run/);
  const status = await dcron('status');
  assert.match(status.stdout, /jobs: +2 \(\d+ running, 1 paused\)/);
  assert.match(status.stdout, /paused: +beat \(dcron resume JOB\)/);
  const view = (await daemon.call<JobView[]>('ls')).find((j) => j.name === 'beat')!;
  assert.equal(view.paused?.untilMs, null);
  assert.equal(view.paused?.by, 'test-node');
  const metricsUrl = /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(daemon.stderr)?.[1];
  assert.ok(metricsUrl, daemon.stderr);
  const metrics = await (await fetch(metricsUrl)).text();
  assert.match(metrics, /^dcron_paused_jobs 1$/m);
  assert.match(metrics, /^dcron_runs_total\{status="paused"\} [1-9]/m);

  // A reload (the file edited) keeps the pause: it is not part of the job's definition.
  ws.writeCrontab(crontab('#dcron name=third\n0 0 1 1 * true\n'));
  await waitFor('the reload to add a job', async () => (await daemon!.call<JobView[]>('ls')).length === 3);
  // A restart keeps it too.
  await daemon.stop();
  daemon = await DaemonProcess.start(ws);
  const before = (await history()).filter((r) => r.status === 'paused').length;
  await waitFor('ticks recorded paused after the restart', async () => (await history()).filter((r) => r.status === 'paused').length >= before + 2);
  assert.deepEqual(ticksRun().filter((t) => t >= firstCovered), [], 'no tick ran while paused');
  const records = await history();
  for (const r of records.filter((r) => r.tickMs >= firstCovered)) {
    assert.equal(r.status, 'paused', `tick ${r.tickMs}: ${r.status}`);
    assert.match(r.message ?? '', /the job is paused \(by test-node at .*until resumed\)/);
  }
  const pausedTicks = records.filter((r) => r.status === 'paused').map((r) => r.tickMs);
  assert.equal(new Set(pausedTicks).size, pausedTicks.length, 'each tick recorded once');

  const resumed = await dcron('resume', 'beat');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed beat: its next tick runs/);
  const resumedAt = Date.now();
  await waitFor('beat to run again', () => ticksRun().some((t) => t > resumedAt));
  assert.match((await dcron('resume', 'beat')).stdout, /beat was not paused/);
  assert.doesNotMatch((await dcron('ls')).stdout, /paused/);
});

test('pause refuses an unknown job, an --until that is not an instant or not in the future; --until ends the pause by itself', { timeout: 30_000 }, async () => {
  const unknown = await dcron('pause', 'nope');
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /nope/);
  const garbage = await dcron('pause', 'beat', '--until', 'tomorrow');
  assert.notEqual(garbage.code, 0);
  assert.match(garbage.stderr, /--until must be an ISO 8601 instant such as .*, got 'tomorrow'/);
  const past = await dcron('pause', 'beat', '--until', '2020-01-01T00:00:00Z');
  assert.notEqual(past.code, 0);
  assert.match(past.stderr, /--until 2020-01-01T00:00:00.000Z is not in the future/);

  const untilMs = Math.ceil(Date.now() / 1000) * 1000 + 3000;
  const r = await dcron('pause', 'beat', '--until', new Date(untilMs).toISOString());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /paused beat until /);
  assert.match((await dcron('ls')).stdout, /^beat +\S.* paused until in [\d.]+s /m);
  await waitFor('beat to run from its until on', () => ticksRun().some((t) => t >= untilMs), 15_000);
  const records = await history();
  assert.ok(records.some((x) => x.status === 'paused' && x.tickMs < untilMs), 'ticks before until were paused');
  assert.ok(!records.some((x) => x.status === 'paused' && x.tickMs >= untilMs), 'none from until on');
  assert.doesNotMatch((await dcron('ls')).stdout, /paused/, 'a pause past its until is not shown');
});
