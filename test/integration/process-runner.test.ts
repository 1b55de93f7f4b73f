import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellJob, TEST_PATH } from '../helpers/shell-job.js';
import { InvalidProcessOptionsError } from '../../src/daemon/executor/errors.js';
import {
  startProcess,
  type OutputChunk,
  type ProcessOptions,
  type InlineProcess,
} from '../../src/daemon/executor/process-runner.js';

const MiB = 1024 * 1024;
const PATH = TEST_PATH;

interface Harness {
  running: InlineProcess;
  chunks: OutputChunk[];
  /** Concatenated data of one stream, or of all streams in arrival order. */
  text(stream?: OutputChunk['stream']): string;
  notes(): string[];
  /** Resolves with the job's stdout once it matches `pattern`; event-driven, no polling. */
  stdoutMatching(pattern: RegExp): Promise<string>;
}

/** Runs `command` under /bin/sh with test defaults; `onChunk` sees each chunk after it is recorded. */
function run(
  command: string,
  overrides: Partial<ProcessOptions> = {},
  onChunk: (chunk: OutputChunk) => void = () => {},
): Harness {
  const chunks: OutputChunk[] = [];
  const waiters: Array<() => void> = [];
  const text = (stream?: OutputChunk['stream']): string =>
    Buffer.concat(chunks.filter((c) => stream === undefined || c.stream === stream).map((c) => c.data)).toString();
  const onOutput = (chunk: OutputChunk): void => {
    chunks.push(chunk);
    onChunk(chunk);
    for (const wake of waiters.splice(0)) wake();
  };
  const running = startProcess(shellJob(command, onOutput, { maxOutputBytes: MiB, ...overrides }));
  const stdoutMatching = (pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(text('stdout'))) resolve(text('stdout'));
        else waiters.push(check);
      };
      running.done.then(() => reject(new Error(`job ended, stdout never matched ${pattern}`)), reject);
      check();
    });
  const notes = (): string[] => chunks.filter((c) => c.stream === 'system').map((c) => c.data.toString());
  return { running, chunks, text, notes, stdoutMatching };
}

/**
 * Gone = no such process, or a zombie: orphans are reparented to PID 1, which
 * in some containers never reaps them, so a killed orphan can stay a zombie
 * (dead, yet kill(pid, 0) succeeds).
 */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
    throw err;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

async function waitUntil(predicate: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function firstLineAsPid(stdout: string): number {
  const pid = Number(stdout.split('\n')[0]);
  assert.ok(Number.isInteger(pid) && pid > 0, `expected a pid, got ${JSON.stringify(stdout)}`);
  return pid;
}

function tempDir(): string {
  return realpathSync(mkdtempSync(join(tmpdir(), 'dcron-runner-')));
}

test('exit code of the shell is reported', async () => {
  const { running } = run('exit 3');
  const result = await running.done;
  assert.ok(running.pid > 0);
  assert.equal(result.exitCode, 3);
  assert.equal(result.signal, null);
  assert.equal(result.killedFor, null);
  assert.equal(result.spawnError, null);
  assert.ok(result.endedMs >= running.startedMs);
});

test('a successful command exits 0 with no output', async () => {
  const { running, chunks } = run('true');
  const result = await running.done;
  assert.equal(result.exitCode, 0);
  assert.equal(result.outputBytes, 0);
  assert.equal(result.truncated, false);
  assert.deepEqual(chunks, []);
});

test('death by a signal is reported as the signal, with no exit code', async () => {
  const { running } = run('kill -USR1 $$');
  const result = await running.done;
  assert.equal(result.exitCode, null);
  assert.equal(result.signal, 'SIGUSR1');
  assert.equal(result.killedFor, null);
});

test('stdout and stderr are tagged and delivered interleaved in arrival order', async (t) => {
  // The job waits on a FIFO after each write and the test releases it once the
  // write has arrived, so the order is deterministic without sleeping. The test
  // holds the FIFO open read-write for the whole run: the job's reads then never
  // see end-of-file between two releases, and opening never blocks.
  const fifo = join(tempDir(), 'step');
  execFileSync('mkfifo', [fifo]);
  const release = openSync(fifo, 'r+');
  t.after(() => closeSync(release));
  const script = 'echo out1; read _ < "$STEP"; echo err1 >&2; read _ < "$STEP"; echo out2; echo err2 >&2';
  const { running, chunks, text } = run(script, { env: { PATH, STEP: fifo } }, () => writeSync(release, '\n'));
  const result = await running.done;
  assert.equal(result.exitCode, 0);
  const seen = chunks.map((c) => `${c.stream}:${c.data.toString()}`);
  assert.deepEqual(seen.slice(0, 2), ['stdout:out1\n', 'stderr:err1\n']);
  assert.equal(text('stdout'), 'out1\nout2\n');
  assert.equal(text('stderr'), 'err1\nerr2\n');
  assert.equal(result.outputBytes, 20);
});

test('multi-line stdin reaches the command and is then closed', async () => {
  const stdin = 'first line\nsecond line\n\nlast, no newline';
  const { running, text } = run('cat', { stdin });
  const result = await running.done;
  assert.equal(result.exitCode, 0);
  assert.equal(text('stdout'), stdin);
});

test('null stdin is closed at once, so a reader sees end of input', async () => {
  const { running, text } = run('cat; echo eof');
  await running.done;
  assert.equal(text('stdout'), 'eof\n');
});

test('a command that never reads a large stdin is not an error (EPIPE is quiet)', async () => {
  const { running, notes } = run('exit 0', { stdin: 'x'.repeat(4 * MiB) });
  const result = await running.done;
  assert.equal(result.exitCode, 0);
  assert.deepEqual(notes(), []);
});

test('the environment is exactly the one given, and cwd is applied', async () => {
  process.env.DCRON_TEST_DAEMON_ONLY = 'leaked';
  const dir = tempDir();
  const { running, text } = run('printf "%s|%s|" "$FOO" "${DCRON_TEST_DAEMON_ONLY-unset}"; pwd', {
    cwd: dir,
    env: { PATH, FOO: 'bar baz=1' },
  });
  await running.done;
  delete process.env.DCRON_TEST_DAEMON_ONLY;
  assert.equal(text('stdout'), `bar baz=1|unset|${dir}\n`);
});

test('binary output passes through byte for byte', async () => {
  const file = join(tempDir(), 'bytes.bin');
  const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256));
  writeFileSync(file, bytes);
  const { running, chunks } = run(`cat '${file}'`);
  await running.done;
  assert.deepEqual(Buffer.concat(chunks.map((c) => c.data)), bytes);
});

test('output past the cap is dropped after one marker, and a 10 MB writer never blocks', { timeout: 30_000 }, async () => {
  const { running, chunks, notes } = run('head -c 10000000 /dev/zero; echo done >&2');
  const result = await running.done;
  assert.equal(result.exitCode, 0);
  assert.equal(result.truncated, true);
  assert.equal(result.outputBytes, 10_000_005);
  const jobBytes = chunks.filter((c) => c.stream !== 'system').reduce((n, c) => n + c.data.length, 0);
  assert.equal(jobBytes, MiB);
  assert.deepEqual(notes(), ['\n[dcron: output truncated at 1 MiB]\n']);
  assert.equal(chunks[chunks.length - 1].stream, 'system', 'nothing is delivered after the marker');
});

test('timeout signals the whole group: a background child dies too', async (t) => {
  const { running, stdoutMatching, notes } = run('sleep 1000 & echo $!; sleep 1000', { timeoutMs: 300 });
  const childPid = firstLineAsPid(await stdoutMatching(/^\d+\n/));
  t.after(() => killQuietly(childPid));
  const result = await running.done;
  assert.equal(result.killedFor, 'timeout');
  assert.equal(result.signal, 'SIGTERM');
  assert.ok(result.endedMs - running.startedMs >= 300);
  assert.deepEqual(notes(), ['[dcron: timeout after 300ms, sent SIGTERM to process group]\n']);
  await waitUntil(() => isGone(childPid), `background child ${childPid} is gone`);
});

test('a background child holding the pipes keeps the run going until the timeout', async (t) => {
  const { running, stdoutMatching } = run('sleep 1000 & echo $!', { timeoutMs: 400 });
  const childPid = firstLineAsPid(await stdoutMatching(/^\d+\n/));
  t.after(() => killQuietly(childPid));
  const result = await running.done;
  assert.equal(result.exitCode, 0, 'the shell itself exited normally');
  assert.equal(result.killedFor, 'timeout');
  assert.ok(result.endedMs - running.startedMs >= 400);
  await waitUntil(() => isGone(childPid), `background child ${childPid} is gone`);
});

test('a background child with its output redirected does not hold the run, and is left running', async (t) => {
  const { running, text } = run('sleep 1000 >/dev/null 2>&1 & echo $!');
  const result = await running.done;
  const childPid = firstLineAsPid(text('stdout'));
  t.after(() => killQuietly(childPid));
  assert.equal(result.exitCode, 0);
  assert.equal(result.killedFor, null);
  assert.equal(isGone(childPid), false);
});

test('kill() stops the job, records the reason, and later kills are no-ops', async () => {
  // `exec`: a child forked at the instant of the SIGTERM can miss it (observed,
  // rarely) and then lives until the grace period's SIGKILL; here we want the fast path.
  const command = 'printf "ready, no newline"; exec sleep 1000';
  const { running, stdoutMatching, notes, chunks } = run(command, { killGraceMs: 10_000 });
  await stdoutMatching(/ready/);
  running.kill('replaced');
  running.kill('shutdown');
  const result = await running.done;
  assert.equal(result.killedFor, 'replaced');
  assert.equal(result.signal, 'SIGTERM');
  assert.ok(result.endedMs - running.startedMs < 10_000, 'done without waiting for the grace period');
  assert.deepEqual(notes(), ['\n[dcron: replaced by a newer run, sent SIGTERM to process group]\n']);
  const delivered = chunks.length;
  running.kill('killed');
  assert.equal(chunks.length, delivered);
  assert.equal((await running.done).killedFor, 'replaced');
});

test('each kill reason is named in the log', async () => {
  const expected = {
    killed: 'killed on request',
    lost: 'this host lost the job (lease lost)',
    shutdown: 'daemon shutting down',
  } as const;
  for (const [reason, text] of Object.entries(expected) as Array<[keyof typeof expected, string]>) {
    const { running, notes } = run('exec sleep 1000');
    running.kill(reason);
    assert.equal((await running.done).killedFor, reason);
    assert.deepEqual(notes(), [`[dcron: ${text}, sent SIGTERM to process group]\n`]);
  }
});

test('a job that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  const { running, stdoutMatching, notes } = run("trap '' TERM; echo ready; sleep 1000", { killGraceMs: 200 });
  await stdoutMatching(/ready\n/);
  running.kill('killed');
  const result = await running.done;
  assert.equal(result.signal, 'SIGKILL');
  assert.equal(result.killedFor, 'killed');
  assert.deepEqual(notes(), [
    '[dcron: killed on request, sent SIGTERM to process group]\n',
    '[dcron: process group still running 200ms after SIGTERM, sent SIGKILL]\n',
  ]);
});

test('after a kill, a group member that outlives the shell is SIGKILLed before the run is done', async (t) => {
  // The child prints its pid only once it ignores SIGTERM, then closes its output.
  const script = `sh -c "trap '' TERM; echo \\$\\$; exec sleep 1000 >/dev/null 2>&1" & sleep 1000`;
  const { running, stdoutMatching, notes } = run(script, { killGraceMs: 200 });
  const childPid = firstLineAsPid(await stdoutMatching(/^\d+\n/));
  t.after(() => killQuietly(childPid));
  running.kill('killed');
  const result = await running.done;
  assert.equal(result.signal, 'SIGTERM', 'the shell itself died of SIGTERM');
  assert.match(notes().join(''), /sent SIGKILL/);
  await waitUntil(() => isGone(childPid), `surviving child ${childPid} is gone`);
});

test('pipes held by a process that left the group are let go after a kill', { skip: !existsSync('/usr/bin/setsid') }, async (t) => {
  // The escaped process prints its pid only once it is in a session of its own.
  const script = `setsid sh -c 'echo $$; exec sleep 1000' & sleep 1000`;
  const { running, stdoutMatching, notes } = run(script, { killGraceMs: 100 });
  const escapedPid = firstLineAsPid(await stdoutMatching(/^\d+\n/));
  t.after(() => killQuietly(escapedPid));
  running.kill('lost');
  const result = await running.done;
  assert.equal(result.killedFor, 'lost');
  assert.match(notes().join(''), /held open by a process outside the process group/);
});

test('a missing shell resolves with spawnError, never throws', async () => {
  const { running, notes } = run('true', { shell: '/nonexistent/sh' });
  assert.equal(running.pid, 0);
  running.kill('killed');
  const result = await running.done;
  assert.equal(result.spawnError, 'shell not found: /nonexistent/sh');
  assert.equal(result.exitCode, null);
  assert.equal(result.killedFor, null);
  assert.deepEqual(notes(), ['[dcron: could not start: shell not found: /nonexistent/sh]\n']);
});

test('a missing working directory is named as such, not as a missing shell', async () => {
  const result = await run('true', { cwd: '/nonexistent/dir' }).running.done;
  assert.equal(result.spawnError, 'working directory does not exist: /nonexistent/dir');
  assert.equal(result.exitCode, null);
});

test('a working directory that is a file resolves with spawnError (spawn throws for it)', async () => {
  const file = join(tempDir(), 'plain-file');
  writeFileSync(file, '');
  let delivered = 0;
  const { running } = run('true', { cwd: file }, () => (delivered += 1));
  assert.equal(delivered, 0, 'no callback before startProcess returns');
  const result = await running.done;
  assert.equal(result.spawnError, `working directory is not a directory: ${file}`);
});

test('an empty shell name, which spawn rejects by throwing, resolves with spawnError', async () => {
  const result = await run('true', { shell: '' }).running.done;
  assert.match(result.spawnError ?? '', /^cannot run shell /);
});

test('invalid options throw InvalidProcessOptionsError', () => {
  assert.throws(() => run('true', { maxOutputBytes: -1 }), InvalidProcessOptionsError);
  assert.throws(() => run('true', { timeoutMs: 0 }), InvalidProcessOptionsError);
  assert.throws(() => run('true', { timeoutMs: 2 ** 31 }), InvalidProcessOptionsError);
  assert.throws(() => run('true', { killGraceMs: Number.NaN }), InvalidProcessOptionsError);
});

test('timestamps come from the injected clock', async () => {
  let tick = 1_000;
  const { running, chunks } = run('echo hi', { now: () => (tick += 1) });
  const result = await running.done;
  assert.equal(running.startedMs, 1_001);
  assert.deepEqual(chunks.map((c) => c.tsMs), [1_002]);
  assert.equal(result.endedMs, 1_003);
});

test('bash jobs do not source ~/.bashrc: stdin is never a socket', { skip: !existsSync('/bin/bash') && 'no /bin/bash here' }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'dcron-home-'));
  try {
    writeFileSync(join(home, '.bashrc'), 'echo BASHRC-SOURCED\n');
    const env = { PATH, HOME: home };
    // Without input (fd 0 is /dev/null) and with `%` input (an unlinked file).
    const plain = run('echo job ran', { shell: '/bin/bash', env });
    await plain.running.done;
    assert.equal(plain.text('stdout'), 'job ran\n');
    const withInput = run('cat', { shell: '/bin/bash', env, stdin: 'line one\nline two' });
    await withInput.running.done;
    assert.equal(withInput.text('stdout'), 'line one\nline two');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
