import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView } from '../../src/daemon/control/api-types.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

const ws = new Workspace();
let daemon: DaemonProcess;
const dataDir = ws.dataDir;

// One daemon for every case: a three-shard job every second, a job after it and one after its failures.
before(async () => {
  ws.writeCrontab(
    [
      '#dcron name=fan shards=3',
      '* * * * * * echo $DCRON_SHARD',
      '#dcron name=report after=fan',
      '@after echo report',
      '#dcron name=cleanup after-failure=fan',
      '@after echo cleanup',
      '#dcron name=plain',
      '0 0 1 1 * echo plain',
      '',
    ].join('\n'),
  );
  daemon = await DaemonProcess.start(ws);
  // Two whole ticks, every shard ended, and the dependent job run after one of them.
  await waitFor(
    'two ticks of fan with all three shards ok, and report run after one',
    async () => {
      const runs = await daemon.call<RunRecord[]>('history', { job: 'fan', limit: 100 });
      const done = new Map<number, number>();
      for (const r of runs) if (r.status === 'ok') done.set(r.tickMs, (done.get(r.tickMs) ?? 0) + 1);
      const reports = await daemon.call<RunRecord[]>('history', { job: 'report', limit: 5 });
      return [...done.values()].filter((n) => n === 3).length >= 2 && reports.some((r) => r.status === 'ok');
    },
    20_000,
  );
});

after(async () => {
  await daemon?.stop();
  ws.cleanup();
});

const dcron = async (args: string[]) => {
  const r = await cli(args, { dataDir });
  assert.equal(r.code, 0, `dcron ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

test('history JOB shows one row per tick of a sharded job, with its shard counts', async () => {
  const out = await dcron(['history', 'fan']);
  const lines = out.split('\n');
  assert.match(lines[0], /^RUN +JOB +TICK +TRIGGER +STATUS +DURATION +EXIT +SHARDS +HOST$/);
  const rows = lines.filter((l) => /^- +fan /.test(l));
  assert.ok(rows.length >= 2, out);
  // The newest tick may still be running; every earlier one ended with all three shards ok.
  const ended = rows.filter((l) => !/ running /.test(l));
  assert.ok(ended.length >= 2, out);
  for (const row of ended) assert.match(row, / (schedule|catchup) +ok +\S+ +- +3\/3 ok +test-node$/);
  assert.match(out, /--shards lists each shard's run and host/);
});

test('history without a sharded job prints as it always did', async () => {
  await dcron(['run', 'plain']);
  const out = await waitFor('the manual run of plain to end', async () => {
    const text = await dcron(['history', 'plain']);
    return / ok /.test(text) ? text : undefined;
  });
  assert.match(out.split('\n')[0], /^RUN +JOB +TICK +TRIGGER +STATUS +DURATION +EXIT +HOST$/);
  assert.match(out, /^[0-9A-Z]{26} +plain +.* manual +ok +\S+ +0 +test-node$/m);
});

test('history --shards lists each shard run with its shard and host', async () => {
  // Two whole ticks are all before() waits for: six runs.
  const out = (await dcron(['history', 'fan', '--shards', '-n', '6'])).trimEnd();
  const lines = out.split('\n');
  assert.match(lines[0], /^RUN +JOB +TICK +SHARD +TRIGGER +STATUS +DURATION +EXIT +HOST$/);
  const rows = lines.slice(1);
  assert.equal(rows.length, 6);
  for (const row of rows) assert.match(row, /^[0-9A-Z]{26} +fan +\S+ \S+ +[0-2]\/3 +(schedule|catchup) +\S+ .* test-node$/);
  assert.deepEqual(new Set(rows.map((r) => r.match(/ ([0-2])\/3 /)![1])), new Set(['0', '1', '2']));
});

test('history --json prints the raw records, each shard run with shard and shards', async () => {
  const runs = JSON.parse(await dcron(['history', 'fan', '--json', '-n', '6'])) as RunRecord[];
  assert.equal(runs.length, 6);
  for (const r of runs) {
    assert.equal(r.job, 'fan');
    assert.equal(r.shards, 3);
    assert.ok(r.shard !== null && r.shard >= 0 && r.shard < 3);
    assert.equal(typeof r.id, 'string');
  }
  const plain = JSON.parse(await dcron(['history', 'report', '--json', '-n', '1'])) as RunRecord[];
  assert.equal(plain[0].shard, null);
  assert.equal(plain[0].trigger, 'dependency');
});

test('logs JOB --shard I shows the output of shard I\'s newest run', async () => {
  // A new tick starts every second: its run may be recorded before its echo arrives, so ask until it has.
  for (const shard of ['0', '1', '2']) await waitFor(`shard ${shard}'s output`, async () => (await dcron(['logs', 'fan', '--shard', shard])) === `${shard}\n`);
});

test('logs --shard refuses a bad index, a shard the job lacks and an unsharded job, clearly', async () => {
  const bad = await cli(['logs', 'fan', '--shard', '-1'], { dataDir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--shard must be a shard number from 0/);
  const word = await cli(['logs', 'fan', '--shard', 'one'], { dataDir });
  assert.equal(word.code, 2);
  const both = await cli(['logs', 'fan', '--shard', '1', '--run', '01ABCDEF'], { dataDir });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--shard and --run/);
  const missing = await cli(['logs', 'fan', '--shard', '3'], { dataDir });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /fan has 3 shards, numbered 0-2: there is no shard 3/);
  const unsharded = await cli(['logs', 'report', '--shard', '0'], { dataDir });
  assert.equal(unsharded.code, 1);
  assert.match(unsharded.stderr, /report is not sharded/);
});

test('ls shows what a dependent job runs after, no next tick for it, and a sharded job\'s shard count', async () => {
  const out = await dcron(['ls']);
  assert.match(out, /^report +after fan +- +/m);
  assert.match(out, /^cleanup +after failure of fan +- +/m);
  assert.match(out, /^fan +every second ×3 shards +in /m);
  const jobs = JSON.parse(await dcron(['ls', '--json'])) as JobView[];
  const byName = new Map(jobs.map((j) => [j.name, j]));
  assert.deepEqual(
    ['fan', 'report', 'cleanup', 'plain'].map((n) => {
      const j = byName.get(n)!;
      return [n, j.shards, j.after, j.afterFailure, j.nextTickMs === null];
    }),
    [
      ['fan', 3, null, null, false],
      ['report', 1, ['fan'], null, true],
      ['cleanup', 1, null, ['fan'], true],
      ['plain', 1, null, null, false],
    ],
  );
});
