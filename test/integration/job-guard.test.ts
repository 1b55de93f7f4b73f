import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isAlive, killGroup } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

const GUARD = fileURLToPath(new URL('../../src/daemon/executor/job-guard-process.js', import.meta.url));

/** A stand-in job: `sleep` as the leader of its own process group, as the executor starts jobs. */
function job(): number {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid!;
}

async function guard() {
  const child = spawn(process.execPath, [GUARD], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor('the guard to be ready', () => stdout.includes('ready\n'));
  return { child, exited, send: (line: string) => child.stdin!.write(`${line}\n`), log: () => stderr };
}

test('when the daemon is gone (its pipe closes), the guard kills on-lost=kill jobs and leaves on-lost=finish ones', async (t) => {
  const kill = job();
  const finish = job();
  t.after(() => [kill, finish].forEach(killGroup));
  const g = await guard();
  g.send(`+ ${kill} k`);
  g.send(`+ ${finish} f`);
  g.child.stdin!.end();
  await waitFor('the on-lost=kill job to die', () => !isAlive(kill));
  await g.exited;
  assert.ok(isAlive(finish), 'on-lost=finish job still runs');
  assert.match(g.log(), /the daemon is gone/);
});

test('a lease proof that is not renewed in time kills on-lost=kill jobs; renewed ones and ended jobs are spared', async (t) => {
  const lapsed = job();
  const ended = job();
  t.after(() => [lapsed, ended].forEach(killGroup));
  const g = await guard();
  t.after(() => g.child.kill('SIGKILL'));
  g.send(`+ ${ended} k`);
  g.send(`- ${ended}`);
  g.send('p 60000');
  g.send(`+ ${lapsed} k`);
  // A shorter proof replaces the longer one: the deadline is always the last one sent.
  g.send('p 300');
  await waitFor('the job to be killed when the proof lapses', () => !isAlive(lapsed));
  assert.ok(isAlive(ended), 'a job that ended (unwatched) is never signalled');
  assert.match(g.log(), /could not prove its lease/);
  // Until a new proof comes, a job started now is started unproven: it goes at once.
  const late = job();
  t.after(() => killGroup(late));
  g.send(`+ ${late} k`);
  await waitFor('a job started after the proof lapsed to be killed', () => !isAlive(late));
  g.send('p 60000');
  const proven = job();
  t.after(() => killGroup(proven));
  g.send(`+ ${proven} k`);
  g.send('n');
  await waitFor('the guard to take the new proof', () => g.child.stdin!.writableLength === 0);
  assert.ok(isAlive(proven), 'a job started under a fresh proof runs');
});

test('the guard ignores the signals meant for the daemon', async (t) => {
  const j = job();
  t.after(() => killGroup(j));
  const g = await guard();
  g.send(`+ ${j} k`);
  g.send('n');
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) g.child.kill(s);
  g.child.stdin!.end();
  assert.equal(await g.exited, 0, 'it left because its input ended, not by a signal');
  await waitFor('the job to be killed', () => !isAlive(j));
});
