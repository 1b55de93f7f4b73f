import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `dcron run JOB --tick ISO` and `dcron backfill` on one host, through the
 * CLI, judged from the jobs' own output files: each past tick runs with
 * DCRON_TRIGGER=backfill and its own DCRON_TICK_MS, exactly once however
 * often it is backfilled, and --parallel bounds how many run at once.
 * The jobs are hourly (minute 0) so no tick comes due on schedule while the test runs... unless
 * the hour turns: the assertions only look at ticks before the test started.
 */
const ws = new Workspace();
let daemon: DaemonProcess | undefined;
/** Before the daemon started: ticks of beat before this ran nowhere. */
let bootMs = 0;
before(async () => {
  ws.writeCrontab(
    [
      `#dcron name=rep`,
      `0 * * * * echo "$DCRON_TRIGGER $DCRON_TICK_MS" >> ${file('rep')}`,
      `#dcron name=twice`,
      `0 * * * * echo "$DCRON_TRIGGER $DCRON_TICK_MS" >> ${file('twice')}`,
      // Start and end stamps of each run, in ms (`\\%`: a bare % ends a cron command).
      `#dcron name=par overlap=allow`,
      `0 * * * * echo "$DCRON_TICK_MS start $(date +\\%s\\%3N)" >> ${file('par')}; sleep 0.4; echo "$DCRON_TICK_MS end $(date +\\%s\\%3N)" >> ${file('par')}`,
      `#dcron name=bad`,
      `0 * * * * exit 3`,
      `#dcron name=beat`,
      `* * * * * * echo "$DCRON_TRIGGER $DCRON_TICK_MS" >> ${file('beat')}`,
      `#dcron name=child after=rep`,
      `0 * * * * true`,
      '',
    ].join('\n'),
  );
  bootMs = Date.now();
  daemon = await DaemonProcess.start(ws);
});
after(async () => {
  await daemon?.stop();
  ws.cleanup();
});

function file(job: string): string {
  return ws.path(`${job}.out`);
}
const lines = (job: string): string[] => (existsSync(file(job)) ? readFileSync(file(job), 'utf8').split('\n').filter(Boolean) : []);
const dcron = (...args: string[]) => cli(args, { dataDir: ws.dataDir, timeoutMs: 60_000 });
const HOUR = 3_600_000;
const lastHour = (): number => Math.floor(Date.now() / HOUR) * HOUR;
const iso = (ms: number): string => new Date(ms).toISOString();

test('run --tick runs that past tick with DCRON_TRIGGER=backfill and its DCRON_TICK_MS, once', { timeout: 30_000 }, async () => {
  const tick = lastHour() - 2 * HOUR;
  const r = await dcron('run', 'rep', '--tick', iso(tick), '-f');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines('rep'), [`backfill ${tick}`]);
  const again = await dcron('run', 'rep', '--tick', iso(tick));
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not run: already backfilled/);
  assert.deepEqual(lines('rep'), [`backfill ${tick}`]);
});

test('run --tick refuses a non-tick instant (naming the nearest ticks), a future tick, an unknown job and a dependent job', { timeout: 30_000 }, async () => {
  const tick = lastHour() - HOUR;
  const off = await dcron('run', 'rep', '--tick', iso(tick + 30 * 60_000));
  assert.equal(off.code, 1);
  assert.match(off.stderr, new RegExp(`is not a tick of rep; the nearest are ${iso(tick).replace(/\./g, '\\.')} and ${iso(tick + HOUR).replace(/\./g, '\\.')}`));
  const future = await dcron('run', 'rep', '--tick', iso(lastHour() + 2 * HOUR));
  assert.equal(future.code, 1);
  assert.match(future.stderr, /is in the future: rep's scheduler runs that tick when it comes/);
  const unknown = await dcron('run', 'nope', '--tick', iso(tick));
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no job named 'nope'/);
  const dependent = await dcron('backfill', 'child', '--from', iso(tick - HOUR), '--to', iso(tick));
  assert.equal(dependent.code, 1);
  assert.match(dependent.stderr, /child runs after other jobs \(after=\)/);
  const notIso = await dcron('run', 'rep', '--tick', 'yesterday');
  assert.equal(notIso.code, 2);
  assert.match(notIso.stderr, /--tick must be an ISO 8601 instant/);
  assert.ok(!lines('rep').includes(`backfill ${tick}`));
});

test('backfill over a range twice: every tick ran exactly once, the second run refuses them all', { timeout: 60_000 }, async () => {
  const to = lastHour() - HOUR;
  const from = to - 5 * HOUR;
  const expected = [0, 1, 2, 3, 4, 5].map((i) => `backfill ${from + i * HOUR}`);
  const first = await dcron('backfill', 'twice', '--from', iso(from), '--to', iso(to));
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /backfilling 6 tick\(s\) of twice/);
  assert.match(first.stdout, /twice: 6 ran ok, 0 failed, 0 refused/);
  assert.deepEqual(lines('twice').sort(), expected.sort());
  const second = await dcron('backfill', 'twice', '--from', iso(from), '--to', iso(to));
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /twice: 0 ran ok, 0 failed, 6 refused/);
  assert.match(second.stdout, /refused: already backfilled/);
  assert.deepEqual(lines('twice').sort(), expected.sort());
});

test('backfill --parallel 3 never runs more than 3 at once; a failing tick makes the exit non-zero', { timeout: 60_000 }, async () => {
  const to = lastHour() - HOUR;
  const from = to - 9 * HOUR;
  const r = await dcron('backfill', 'par', '--from', iso(from), '--to', iso(to), '--parallel', '3');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /par: 10 ran ok/);
  const events = lines('par').map((l) => l.split(' ')).map(([tick, kind, ms]) => ({ tick: Number(tick), kind, ms: Number(ms) }));
  assert.equal(new Set(events.filter((e) => e.kind === 'start').map((e) => e.tick)).size, 10);
  // Sweep the starts and ends in time order; an end at the same ms as a start counts first.
  let now = 0;
  let most = 0;
  for (const e of events.sort((a, b) => a.ms - b.ms || (a.kind === 'end' ? -1 : 1))) {
    now += e.kind === 'start' ? 1 : -1;
    most = Math.max(most, now);
  }
  assert.ok(most <= 3, `${most} ran at once`);
  assert.ok(most >= 2, 'the ticks ran side by side');

  const overlap = await dcron('backfill', 'twice', '--from', iso(from), '--to', iso(to), '--parallel', '2');
  assert.equal(overlap.code, 1);
  assert.match(overlap.stderr, /twice has overlap=skip: its ticks cannot run side by side/);

  const bad = await dcron('backfill', 'bad', '--from', iso(to - HOUR), '--to', iso(to));
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /bad: 0 ran ok, 2 failed, 0 refused/);
  assert.match(bad.stderr, /2 backfilled tick\(s\) of bad failed/);

  const tooMany = await dcron('backfill', 'par', '--from', '2000-01-01T00:00:00Z', '--to', iso(to));
  assert.equal(tooMany.code, 1);
  assert.match(tooMany.stderr, /holds more than 10000 ticks/);
});

test('a tick that already ran on schedule is refused, and one that passed unrun is not', { timeout: 30_000 }, async () => {
  // The job's line is written while its run goes on: the tick is taken once its run record has ended ok.
  const tick = await waitFor('beat to run on schedule and end', async () => {
    const ended = new Set((await daemon!.call<RunRecord[]>('history', { job: 'beat', limit: 50 })).filter((r) => r.trigger === 'schedule' && r.status === 'ok').map((r) => r.tickMs));
    const line = lines('beat').find((l) => l.startsWith('schedule ') && ended.has(Number(l.split(' ')[1])));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  });
  const r = await dcron('run', 'beat', '--tick', iso(tick));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not run: already ran on schedule \(run \w+, ok, on test-node\)/);
  // Before the daemon started, beat's ticks ran nowhere: one of them backfills.
  const before = Math.floor(bootMs / 1000) * 1000 - 5000;
  // beat runs every second with overlap=skip: a backfill landing on one of its runs is not run (its claim
  // given back) and is asked again, as an operator would.
  const b = await waitFor('the backfill to find beat idle', async () => {
    const res = await dcron('run', 'beat', '--tick', iso(before), '-f');
    return /overlap=skip: run \w+ still running/.test(res.stderr) ? undefined : res;
  });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(lines('beat').filter((l) => l === `backfill ${before}`).length, 1);
});
