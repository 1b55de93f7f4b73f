import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidProcessOptionsError } from '../../src/daemon/executor/errors.js';
import { Executor } from '../../src/daemon/executor/executor.js';
import type { OutputChunk, ProcessOptions, RunningProcess } from '../../src/daemon/executor/process-runner.js';
import { WorkerSpawner } from '../../src/daemon/executor/process-spawner.js';
import { EmbeddedCoordinator } from '../../src/daemon/coordination/embedded.js';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import { openDatabase } from '../../src/daemon/runlog/database.js';
import { RunLog } from '../../src/daemon/runlog/run-log.js';
import { silentLogger, type Logger } from '../../src/daemon/log.js';
import { shellJob, TEST_PATH } from '../helpers/shell-job.js';
import { waitFor } from '../helpers/wait.js';

const PATH = TEST_PATH;
const CRASHABLE_WORKER = new URL('../helpers/crashable-spawn-worker.js', import.meta.url);

const spawner = new WorkerSpawner(silentLogger);
after(() => spawner.close());

interface Harness {
  running: RunningProcess;
  chunks: OutputChunk[];
  text(stream?: OutputChunk['stream']): string;
  notes(): string;
}

function run(command: string, overrides: Partial<ProcessOptions> = {}, via: WorkerSpawner = spawner): Harness {
  const chunks: OutputChunk[] = [];
  const running = via.start(shellJob(command, (chunk) => chunks.push(chunk), overrides));
  const text = (stream?: OutputChunk['stream']): string =>
    Buffer.concat(chunks.filter((c) => stream === undefined || c.stream === stream).map((c) => c.data)).toString();
  return { running, chunks, text, notes: () => text('system') };
}

/** Gone, or a zombie nobody reaps (orphans under a PID 1 that does not wait). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

function recordingLogger(errors: string[]): Logger {
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (msg, fields) => errors.push(`${msg} ${JSON.stringify(fields)}`), child: () => logger };
  return logger;
}

test('output arrives in order and whole, as Buffers, stream by stream', async () => {
  const h = run('seq 1 200000; for i in $(seq 1 300); do echo out-$i; echo err-$i >&2; done');
  const result = await h.running.done;
  const lines = (prefix: string) => Array.from({ length: 300 }, (_, i) => `${prefix}-${i + 1}\n`).join('');
  const seq = Array.from({ length: 200000 }, (_, i) => `${i + 1}\n`).join('');
  assert.equal(h.text('stdout'), seq + lines('out'));
  assert.equal(h.text('stderr'), lines('err'));
  assert.ok(h.chunks.length > 2, 'many chunks');
  assert.ok(h.chunks.every((c) => Buffer.isBuffer(c.data)));
  assert.ok(h.chunks.every((c, i) => i === 0 || c.tsMs >= h.chunks[i - 1].tsMs), 'timestamps in arrival order');
  assert.equal(result.outputBytes, seq.length + lines('out').length + lines('err').length);
});

test('exit codes, signals and `%` input cross from the worker', async () => {
  const exited = run('exit 3');
  const { pid, startedMs } = await exited.running.started;
  const r = await exited.running.done;
  assert.ok(pid > 0);
  assert.deepEqual([r.exitCode, r.signal, r.killedFor, r.spawnError, r.runnerError], [3, null, null, null, null]);
  assert.ok(r.endedMs >= startedMs);
  const signalled = await run('kill -USR1 $$').running.done;
  assert.deepEqual([signalled.exitCode, signalled.signal], [null, 'SIGUSR1']);
  const cat = run('cat', { stdin: 'line one\nline two' });
  await cat.running.done;
  assert.equal(cat.text('stdout'), 'line one\nline two');
});

test('the output cap and its note are applied in the worker', async () => {
  const h = run('echo 0123456789abcdef', { maxOutputBytes: 10 });
  const r = await h.running.done;
  assert.equal(h.text('stdout'), '0123456789');
  assert.equal(r.truncated, true);
  assert.equal(r.outputBytes, 17);
  assert.match(h.notes(), /^\n\[dcron: .*\]\n$/);
});

test('a timeout kills the whole process group', async () => {
  const h = run('sleep 1000 & echo $!; sleep 1000', { timeoutMs: 300, killGraceMs: 200 });
  const r = await h.running.done;
  const background = Number(h.text('stdout').trim());
  assert.ok(background > 0);
  assert.equal(r.killedFor, 'timeout');
  assert.equal(r.signal, 'SIGTERM');
  assert.match(h.notes(), /timeout after .*sent SIGTERM to process group/);
  await waitFor(`background process ${background} to be gone`, () => isGone(background), 5000, 10);
});

test('a kill before the pid is known still lands, even on a worker still loading', async (t) => {
  const fresh = new WorkerSpawner(silentLogger);
  t.after(() => fresh.close());
  const h = run('echo $$; exec sleep 1000', {}, fresh);
  h.running.kill('killed');
  const [{ pid }, r] = await Promise.all([h.running.started, h.running.done]);
  assert.ok(pid > 0, 'it did start');
  assert.equal(r.killedFor, 'killed');
  assert.match(h.notes(), /killed on request, sent SIGTERM/);
  assert.ok(isGone(pid));
});

test('spawn errors end up in the result, with pid 0', async () => {
  const cwd = run('true', { cwd: '/nonexistent/dir' });
  assert.equal((await cwd.running.started).pid, 0);
  assert.equal((await cwd.running.done).spawnError, 'working directory does not exist: /nonexistent/dir');
  const shell = run('true', { shell: '/nonexistent/sh' });
  const r = await shell.running.done;
  assert.equal(r.spawnError, 'shell not found: /nonexistent/sh');
  assert.equal(r.exitCode, null);
  assert.equal(shell.notes(), '[dcron: could not start: shell not found: /nonexistent/sh]\n');
});

test('invalid options throw on the calling thread, as inline', () => {
  assert.throws(() => run('true', { maxOutputBytes: -1 }), InvalidProcessOptionsError);
  assert.throws(() => run('true', { timeoutMs: 0 }), InvalidProcessOptionsError);
});

for (const [marker, cause] of [['#crash-worker', /exited with code 1/], ['#exit-worker', /exited with code 7/]] as const) {
  test(`a worker that dies (${marker}) ends its runs with runnerError, kills their groups, and the next start works`, async (t) => {
    const errors: string[] = [];
    const crashable = new WorkerSpawner(recordingLogger(errors), { workerUrl: CRASHABLE_WORKER });
    t.after(() => crashable.close());
    const victim = run('echo $$; printf partial; exec sleep 1000', {}, crashable);
    const { pid } = await victim.running.started;
    await waitFor('the victim to print', () => victim.text('stdout').endsWith('partial'), 5000, 10);
    const killer = run(`true ${marker}`, {}, crashable);

    const lost = await victim.running.done;
    assert.match(lost.runnerError ?? '', cause);
    assert.match(lost.runnerError ?? '', /stopped following the job and killed its process group/);
    assert.deepEqual([lost.exitCode, lost.spawnError, lost.killedFor], [null, null, null]);
    assert.match(victim.notes(), /^\n\[dcron: dcron's spawn worker ended/, 'the note starts on a line of its own');
    await waitFor(`the victim's shell ${pid} to be gone`, () => isGone(pid), 5000, 10);
    assert.match((await killer.running.done).runnerError ?? '', cause);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /spawn worker died.*"runs":2/);

    const next = run('echo again', {}, crashable);
    assert.equal((await next.running.done).exitCode, 0);
    assert.equal(next.text('stdout'), 'again\n');
  });
}

test('close ends runs still in flight and kills them; a later start brings up a new worker', async () => {
  const closing = new WorkerSpawner(silentLogger);
  const h = run('exec sleep 1000', {}, closing);
  const { pid } = await h.running.started;
  await closing.close();
  assert.match((await h.running.done).runnerError ?? '', /the executor closed/);
  await waitFor(`${pid} to be gone`, () => isGone(pid), 5000, 10);
  const again = run('exit 4', {}, closing);
  assert.equal((await again.running.done).exitCode, 4);
  await closing.close();
});

test('200 concurrent runs all finish with their own output and exit code', async () => {
  const runs = Array.from({ length: 200 }, (_, i) => run(`echo run-${i}; echo err-${i} >&2; exit ${i % 3}`));
  const results = await Promise.all(runs.map((h) => h.running.done));
  results.forEach((r, i) => {
    assert.equal(r.exitCode, i % 3, `run ${i}`);
    assert.equal(runs[i].text('stdout'), `run-${i}\n`);
    assert.equal(runs[i].text('stderr'), `err-${i}\n`);
  });
});

test('an idle worker does not keep the process alive', () => {
  const module = new URL('../../src/daemon/executor/process-spawner.js', import.meta.url).href;
  const script = `
    import { WorkerSpawner } from ${JSON.stringify(module)};
    const noop = () => {};
    const log = { debug: noop, info: noop, warn: noop, error: noop, child: () => log };
    const r = new WorkerSpawner(log).start({ shell: '/bin/sh', command: 'echo ran', stdin: null, cwd: '/', env: {}, timeoutMs: null, killGraceMs: 100, maxOutputBytes: 100, onOutput: (c) => process.stdout.write(c.data) });
    r.done.then((res) => process.stdout.write('exit ' + res.exitCode));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(out, 'ran\nexit 0', 'ran the job, then exited without close()');
});

test('an executor spawning inline stamps run times with its injected clock', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dcron-spawner-'));
  const db = openDatabase(join(dir, 'runs.db'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const runLog = new RunLog(db);
  const coordinator = new EmbeddedCoordinator(db);
  let clock = 1_000_000;
  const executor = new Executor({ runLog, coordinator, host: 'h1', log: silentLogger, now: () => (clock += 1), spawnIn: 'inline' });
  const [job] = parseCrontab('#dcron name=clocked\n0 0 1 1 * echo hi\n', { file: join(dir, 'crontab'), defaultTz: 'UTC' }).jobs;
  const claim = await coordinator.claimTick(job.name, 0);
  executor.submit({ job, tickMs: 0, trigger: 'manual', fence: claim!.fence, busyFence: null });
  const record = await waitFor('the run to end', () => runLog.history({ job: 'clocked', limit: 1 }).find((r) => r.status !== 'running'));
  assert.equal(record.status, 'ok');
  assert.ok(record.endedMs! > 1_000_000 && record.endedMs! < 1_001_000, `endedMs ${record.endedMs} is from the injected clock`);
  assert.ok(runLog.readOutput(record.id).every((c) => c.tsMs < 1_001_000));
  await executor.close();
});

test('with two workers, a burst of runs is spread over both processes', async (t) => {
  const pair = new WorkerSpawner(silentLogger, { workers: 2 });
  t.after(() => pair.close());
  const runs = Array.from({ length: 20 }, () => run('sleep 0.2; echo $PPID', {}, pair));
  const results = await Promise.all(runs.map((h) => h.running.done));
  assert.ok(results.every((r) => r.exitCode === 0));
  const parents = new Set(runs.map((h) => h.text('stdout').trim()));
  assert.equal(parents.size, 2, `shells' parents: ${[...parents].join(', ')}`);
  assert.ok(![...parents].includes(String(process.pid)), 'started by the workers, not by this process');
});
