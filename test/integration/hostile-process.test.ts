/**
 * Jobs that leave processes behind with the job's output still open: the
 * run ends anyway, shortly after the shell, and what happens to those
 * processes is pinned down here.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, type OutputChunk, type ProcessOptions } from '../../src/daemon/executor/process-runner.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'dcron-hostile-proc-'));
const leftovers: number[] = [];
after(() => {
  for (const pid of leftovers) kill(pid);
  rmSync(dir, { recursive: true, force: true });
});

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Running or sleeping; a zombie is dead. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Process group and session of a live process, from /proc. */
function groupAndSession(pid: number): { pgid: number; sid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [, , pgid, sid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgid: Number(pgid), sid: Number(sid) };
}

function run(command: string, overrides: Partial<ProcessOptions> = {}) {
  const chunks: OutputChunk[] = [];
  const running = startProcess({
    shell: '/bin/sh',
    command,
    stdin: null,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: null,
    killGraceMs: 500,
    outputLingerMs: 300,
    maxOutputBytes: 1 << 20,
    onOutput: (c) => chunks.push(c),
    ...overrides,
  });
  const text = (stream?: OutputChunk['stream']) => Buffer.concat(chunks.filter((c) => stream === undefined || c.stream === stream).map((c) => c.data)).toString();
  return { running, chunks, text };
}

const pidFile = (name: string) => join(dir, name);
const readPid = (path: string) => (existsSync(path) ? Number(readFileSync(path, 'utf8').trim()) || undefined : undefined);

test('a job that leaves `(sleep &)` holding its output ends shortly after its shell; the sleep stays, in the job\'s group', async () => {
  const file = pidFile('bg.pid');
  const { running, text } = run(`(sleep 1000 & echo $! > ${file}); echo started; exit 0`);
  const result = await running.done;
  const pid = await waitFor('the background pid', () => readPid(file));
  leftovers.push(pid);
  assert.equal(result.exitCode, 0);
  assert.equal(result.killedFor, null);
  assert.ok(result.endedMs - running.startedMs < 5000, `took ${result.endedMs - running.startedMs} ms`);
  assert.equal(text('stdout'), 'started\n');
  assert.match(text('system'), /left them running/);
  assert.ok(isRunning(pid), 'left running, as cron leaves it');
  assert.equal(groupAndSession(pid).pgid, running.pid, 'still in the job\'s process group: a kill during the run would have reached it');
});

test('a double fork into a session of its own (setsid) does not hold the run either, and escapes the group', { skip: !existsSync('/usr/bin/setsid') && 'no setsid' }, async () => {
  const file = pidFile('setsid.pid');
  const { running } = run(`setsid sh -c 'sleep 1000 & echo $! > ${file}'; exit 3`);
  const result = await running.done;
  const pid = await waitFor('the escaped pid', () => readPid(file));
  leftovers.push(pid);
  assert.equal(result.exitCode, 3, 'the shell\'s own status is the run\'s');
  assert.equal(result.killedFor, null);
  assert.ok(isRunning(pid));
  const { pgid, sid } = groupAndSession(pid);
  assert.notEqual(pgid, running.pid, 'outside the job\'s group: no signal to the group reaches it');
  assert.notEqual(sid, running.pid);
});

test('what left-behind processes print after the run is dropped, and they do not die of a broken pipe', async () => {
  const file = pidFile('late.pid');
  const script = `sh -c 'sleep 0.6; echo late; echo late >&2; echo $$ > ${file}; exec sleep 1000' & echo early`;
  const { running, chunks, text } = run(script);
  const result = await running.done;
  assert.equal(result.exitCode, 0);
  const delivered = chunks.length;
  const pid = await waitFor('the late writer to get past its writes', () => readPid(file));
  leftovers.push(pid);
  assert.ok(isRunning(pid), 'writes after the run still succeed: no SIGPIPE');
  assert.equal(chunks.length, delivered, 'nothing is delivered for a finished run');
  assert.equal(text('stdout'), 'early\n');
});

test('a job timeout shorter than the linger still kills what holds the output, as before', async () => {
  const file = pidFile('timeout.pid');
  const { running } = run(`sleep 1000 & echo $! > ${file}`, { timeoutMs: 200, outputLingerMs: 5000 });
  const result = await running.done;
  const pid = await waitFor('the background pid', () => readPid(file));
  leftovers.push(pid);
  assert.equal(result.killedFor, 'timeout');
  await waitFor('the background sleep to die with its group', () => !isRunning(pid));
});
