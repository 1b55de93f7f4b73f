import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { JobDefinition } from '../../src/daemon/crontab/types.js';
import { EmbeddedCoordinator } from '../../src/daemon/coordination/embedded.js';
import { Executor } from '../../src/daemon/executor/executor.js';
import { openDatabase } from '../../src/daemon/runlog/database.js';
import { RunLog } from '../../src/daemon/runlog/run-log.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { silentLogger } from '../../src/daemon/log.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'dcron-executor-'));
const db = openDatabase(join(dir, 'runs.db'));
const runLog = new RunLog(db);
const coordinator = new EmbeddedCoordinator(db);
const executor = new Executor({ runLog, coordinator, host: 'h1', log: silentLogger, killGraceMs: 500 });
after(async () => {
  await executor.drain(0);
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Jobs come from the real parser, so tests use what users write. */
function job(directives: string, command: string): JobDefinition {
  const parsed = parseCrontab(`#dcron ${directives}\n0 0 1 1 * ${command}\n`, { file: join(dir, 'crontab'), defaultTz: 'UTC' });
  assert.deepEqual(parsed.diagnostics, []);
  return parsed.jobs[0];
}

let tick = Date.UTC(2026, 0, 1);
async function submit(j: JobDefinition, trigger: 'schedule' | 'manual' = 'schedule') {
  tick += 1000;
  const claim = await coordinator.claimTick(j.name, tick);
  return executor.submit({ job: j, tickMs: tick, trigger, fence: claim!.fence, busyFence: null });
}

const runsOf = (name: string): RunRecord[] => runLog.history({ job: name, limit: 100 }).reverse();
const settled = (name: string, n: number) => waitFor(`${n} settled runs of ${name}`, () => {
  const runs = runsOf(name);
  return runs.length >= n && runs.every((r) => r.status !== 'running') && !executor.isRunning(name) ? runs : undefined;
});

test('overlap=skip records the tick it skipped', async () => {
  const gate = join(dir, 'skip.gate');
  const j = job('name=skip-job', `while [ ! -f ${gate} ]; do sleep 0.02; done`);
  assert.equal((await submit(j)).kind, 'started');
  const second = await submit(j);
  assert.equal(second.kind, 'skipped');
  assert.match(second.kind === 'skipped' ? second.record.message! : '', /overlap=skip/);
  writeFileSync(gate, '');
  const runs = await settled('skip-job', 2);
  assert.deepEqual(runs.map((r) => r.status).sort(), ['ok', 'skipped']);
});

test('overlap=allow runs ticks side by side', async () => {
  const gate = join(dir, 'allow.gate');
  const j = job('name=allow-job overlap=allow', `echo x >> ${join(dir, 'allow.count')}; while [ ! -f ${gate} ]; do sleep 0.02; done`);
  await submit(j);
  await submit(j);
  await waitFor('both to be running at once', () => existsSync(join(dir, 'allow.count')) && readFileSync(join(dir, 'allow.count'), 'utf8').length === 4);
  writeFileSync(gate, '');
  const runs = await settled('allow-job', 2);
  assert.deepEqual(runs.map((r) => r.status), ['ok', 'ok']);
});

test('overlap=queue runs the next tick after the current one ends', async () => {
  const log = join(dir, 'queue.log');
  const gate = join(dir, 'queue.gate');
  const j = job('name=queue-job overlap=queue', `echo "start $DCRON_TICK_MS" >> ${log}; while [ ! -f ${gate} ]; do sleep 0.02; done; echo "end $DCRON_TICK_MS" >> ${log}`);
  await submit(j);
  assert.equal((await submit(j)).kind, 'queued');
  await waitFor('the first run to start', () => existsSync(log));
  writeFileSync(gate, '');
  await settled('queue-job', 2);
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
  assert.deepEqual(lines, ['start', 'end', 'start', 'end'], 'never two at once');
});

test('overlap=replace kills the running tick and starts the new one', async () => {
  const j = job('name=replace-job overlap=replace', 'sleep 30');
  await submit(j);
  await waitFor('first run to start', () => executor.isRunning('replace-job'));
  await submit(j);
  await waitFor('the replacement to be running', () => runsOf('replace-job').length === 2 && runsOf('replace-job')[1].status === 'running');
  const [first] = runsOf('replace-job');
  assert.equal(first.status, 'killed');
  assert.match(first.message!, /replaced/);
  executor.kill('replace-job');
  await settled('replace-job', 2);
});

test('retries with backoff: attempts, trigger and fresh fences; then on-failure runs', async () => {
  const hookOut = join(dir, 'hook.out');
  const j = job(`name=retry-job retries=2 retry-delay=50ms on-failure="echo $DCRON_JOB $DCRON_STATUS $DCRON_EXIT_CODE $DCRON_ATTEMPT > ${hookOut}"`, 'echo "attempt $DCRON_ATTEMPT"; exit 3');
  await submit(j);
  const runs = await settled('retry-job', 3);
  assert.deepEqual(runs.map((r) => [r.attempt, r.trigger, r.status, r.exitCode]), [
    [1, 'schedule', 'failed', 3],
    [2, 'retry', 'failed', 3],
    [3, 'retry', 'failed', 3],
  ]);
  assert.ok(runs[1].fence! > runs[0].fence! && runs[2].fence! > runs[1].fence!, 'each attempt has a newer fence');
  assert.ok(runs[2].startedMs - runs[1].endedMs! >= 100, 'second backoff is twice the base');
  // Whole lines only: `>` creates the file before echo writes to it.
  const hook = await waitFor('the on-failure hook', () => existsSync(hookOut) && readFileSync(hookOut, 'utf8').endsWith('\n') && readFileSync(hookOut, 'utf8'));
  assert.equal(hook.trim(), 'retry-job failed 3 3');
});

test('a timeout kills the run and is recorded as timeout; output over max-output is truncated', async () => {
  const t = job('name=timeout-job timeout=200ms', 'echo started; sleep 30');
  await submit(t);
  const [run] = await settled('timeout-job', 1);
  assert.equal(run.status, 'timeout');
  const big = job('name=big-job max-output=1KiB', 'head -c 100000 /dev/zero | tr "\\0" a');
  await submit(big);
  const [b] = await settled('big-job', 1);
  assert.equal(b.status, 'ok');
  assert.equal(b.truncated, true);
  const stored = runLog.readOutput(b.id).filter((c) => c.stream !== 'system').reduce((n, c) => n + c.data.length, 0);
  assert.equal(stored, 1024);
  assert.match(runLog.readOutput(b.id).at(-1)!.data.toString(), /truncated/);
});

test('drain lets short runs finish and kills the rest when on-lost=kill', async () => {
  const local = new Executor({ runLog, coordinator, host: 'h2', log: silentLogger, killGraceMs: 200 });
  const j = job('name=drain-job', 'sleep 30');
  const claim = await coordinator.claimTick(j.name, Date.UTC(2027, 0, 1));
  local.submit({ job: j, tickMs: Date.UTC(2027, 0, 1), trigger: 'schedule', fence: claim!.fence, busyFence: null });
  await waitFor('it to run', () => local.isRunning('drain-job'));
  await local.drain(100);
  const [run] = runsOf('drain-job');
  assert.equal(run.status, 'killed');
  assert.match(run.message!, /shut down/);
  const late = local.submit({ job: j, tickMs: Date.UTC(2027, 0, 2), trigger: 'schedule', fence: 99, busyFence: null });
  assert.equal(late.kind, 'skipped');
});

test('a tick claimed ahead of time is recorded at once and its process starts at the tick', async () => {
  const out = join(dir, 'lead.out');
  const j = job('name=lead-job', `date +\\%s\\%3N > ${out}`);
  const claim = await coordinator.claimTick(j.name, (tick += 1000));
  const startAtMs = Date.now() + 300;
  const submitted = executor.submit({ job: j, tickMs: tick, trigger: 'schedule', fence: claim!.fence, busyFence: null, startAtMs });
  assert.equal(submitted.kind, 'started');
  const waiting = await waitFor('the run record', () => runsOf('lead-job')[0] as RunRecord | undefined);
  assert.equal(waiting.status, 'running', 'recorded before it starts: a crash now leaves a record to mark lost');
  assert.equal(waiting.startedMs, startAtMs);
  assert.ok(!existsSync(out));
  const [done] = await settled('lead-job', 1);
  assert.equal(done.status, 'ok');
  assert.ok(Number(readFileSync(out, 'utf8')) >= startAtMs, 'the process did not start before its tick');
});

test('a run killed while it waits to start is recorded killed, and nothing is started', async () => {
  const out = join(dir, 'never.out');
  const j = job('name=wait-killed', `touch ${out}`);
  const claim = await coordinator.claimTick(j.name, (tick += 1000));
  executor.submit({ job: j, tickMs: tick, trigger: 'schedule', fence: claim!.fence, busyFence: null, startAtMs: Date.now() + 60_000 });
  assert.equal(executor.kill('wait-killed').length, 1);
  const [run] = await settled('wait-killed', 1);
  assert.equal(run.status, 'killed');
  assert.match(run.message ?? '', /not started: killed/);
  assert.ok(!existsSync(out));
});

test('a run whose host may no longer start jobs when its wait ends (lease unproven) is recorded, not started', async () => {
  // As a daemon SIGSTOPped through a claim lead: on SIGCONT the start timer can fire before the lease watchdog.
  let proven = true;
  const guarded = new Executor({ runLog, coordinator, host: 'h3', log: silentLogger, killGraceMs: 200, mayStart: () => proven });
  const out = join(dir, 'unproven.out');
  const waited = job('name=unproven-wait', `touch ${out}`);
  const first = await coordinator.claimTick(waited.name, (tick += 1000));
  guarded.submit({ job: waited, tickMs: tick, trigger: 'schedule', fence: first!.fence, busyFence: null, startAtMs: Date.now() + 200 });
  await waitFor('the waiting run record', () => runsOf('unproven-wait')[0]);
  proven = false;
  const [run] = await settled('unproven-wait', 1);
  assert.equal(run.status, 'killed');
  assert.match(run.message ?? '', /not started: the lease was lost/);

  // Not waiting at all: the same, with its record.
  const now = job('name=unproven-now', `touch ${out}`);
  const second = await coordinator.claimTick(now.name, (tick += 1000));
  guarded.submit({ job: now, tickMs: tick, trigger: 'schedule', fence: second!.fence, busyFence: null });
  const [run2] = await settled('unproven-now', 1);
  assert.equal(run2.status, 'killed');
  assert.match(run2.message ?? '', /not started: the lease was lost/);
  assert.ok(!existsSync(out), 'no process started');
  await guarded.drain(0);
  await guarded.close();
});
