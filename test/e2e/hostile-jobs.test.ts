/**
 * Hostile jobs on a real daemon: binary output, gigabytes of output, jobs
 * that leave background processes holding their output, and names and
 * values that try to climb out of the etcd key namespace or into the SQL.
 * Whatever the jobs do, the daemon stays small, keeps serving, and every run
 * ends with a record.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DCRON_BIN, DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

const ws = new Workspace();
const leftovers: number[] = [];
let daemon: DaemonProcess;
/** Runs started first, as they take the executor's output linger (5 s) to end. */
let lingering: Promise<RunRecord[]>;

/** Every byte value, then invalid UTF-8: a lone continuation byte, an overlong '/', a UTF-16 surrogate, a truncated sequence. */
const BYTES = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0x80, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, 0xe2, 0x82])]);
const SQL = `x'); DROP TABLE runs; --`;
const MiB = 1024 * 1024;

const pidFile = (name: string) => ws.path(`${name}.pid`);
const readPid = (name: string) => (existsSync(pidFile(name)) ? Number(readFileSync(pidFile(name), 'utf8').trim()) || undefined : undefined);

before(async () => {
  writeFileSync(ws.path('bytes.bin'), BYTES);
  ws.writeCrontab(
    [
      `QUOTE="${SQL}"`,
      '#dcron name=binary',
      `0 0 1 1 * cat ${ws.path('bytes.bin')}`,
      '#dcron name=flood timeout=60s',
      '0 0 1 1 * head -c 2G /dev/zero; echo done',
      '#dcron name=yes timeout=1500ms max-output=64KiB',
      '0 0 1 1 * yes',
      '#dcron name=bg',
      `0 0 1 1 * (sleep 1000 & echo $! > ${pidFile('bg')}) ; exit 0`,
      '#dcron name=bg-setsid',
      `0 0 1 1 * setsid sh -c 'sleep 1000 & echo $! > ${pidFile('bg-setsid')}' ; exit 0`,
      '#dcron name=a..b',
      `0 0 1 1 * echo "$QUOTE"; echo 'it''s "quoted"'`,
      // Rejected with a located error; the valid jobs above and below still load.
      '#dcron name=../../etc',
      '0 0 1 1 * echo escaped',
      `#dcron name="${SQL.replace(/"/g, '\\"')}"`,
      '0 0 1 1 * echo injected',
      '#dcron name=ok-after',
      '0 0 1 1 * echo fine',
      '',
    ].join('\n'),
  );
  daemon = await DaemonProcess.start(ws);
  const ids = [await runNow('bg'), await runNow('bg-setsid')];
  lingering = Promise.all(ids.map((id) => finished(id)));
  lingering.catch(() => {}); // awaited, and reported, by its test
});

after(async () => {
  await daemon?.stop();
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  ws.cleanup();
});

async function runNow(job: string): Promise<string> {
  const r = await cli(['run', job], { dataDir: ws.dataDir });
  assert.equal(r.code, 0, r.stderr);
  return /run ([0-9A-Z]{26})/.exec(r.stdout)![1];
}

async function finished(runId: string, timeoutMs = 30_000): Promise<RunRecord> {
  return waitFor(`run ${runId} to end`, async () => {
    const [run] = await daemon.call<RunRecord[]>('history', { limit: 50 }).then((h) => h.filter((r) => r.id === runId));
    return run !== undefined && run.status !== 'running' && run;
  }, timeoutMs);
}

/** `dcron ARGS` with stdout as bytes: `logs` must pass binary output through unchanged. */
function cliBytes(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DCRON_BIN, ...args], { env: { ...process.env, DCRON_DATA_DIR: ws.dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]);
}

/** Samples the daemon's resident memory and how long it takes to answer, until `until` settles. */
async function watchDaemon<T>(until: Promise<T>): Promise<{ result: T; maxRssKiB: number; slowestCallMs: number }> {
  let done = false;
  let maxRssKiB = 0;
  let slowestCallMs = 0;
  const sampler = (async () => {
    while (!done) {
      maxRssKiB = Math.max(maxRssKiB, rssKiB(daemon.pid));
      const started = Date.now();
      await daemon.call('status');
      slowestCallMs = Math.max(slowestCallMs, Date.now() - started);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return { result: await until, maxRssKiB, slowestCallMs };
  } finally {
    done = true;
    await sampler;
  }
}

test('binary output (every byte, invalid UTF-8) is stored and printed back byte for byte', async () => {
  const runId = await runNow('binary');
  const run = await finished(runId);
  assert.equal(run.status, 'ok');
  assert.equal(run.outputBytes, BYTES.length);
  const logs = await cliBytes(['logs', 'binary']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.deepEqual(logs.stdout, BYTES);
  const history = await cli(['history', 'binary', '--json'], { dataDir: ws.dataDir });
  assert.equal(history.code, 0, history.stderr);
  assert.equal((JSON.parse(history.stdout) as RunRecord[])[0].id, runId);
});

test('gigabytes of output: the daemon stays small and answering, the stored output is capped, the run ends', { timeout: 120_000 }, async (t) => {
  const baseline = rssKiB(daemon.pid);
  const flood = await runNow('flood');
  const yes = await runNow('yes');
  const { result, maxRssKiB, slowestCallMs } = await watchDaemon(Promise.all([finished(flood, 90_000), finished(yes, 90_000)]));
  const [floodRun, yesRun] = result;
  t.diagnostic(`daemon VmRSS ${baseline} KiB before, ${maxRssKiB} KiB at most; slowest status call ${slowestCallMs} ms`);
  // Buffering even a tenth of the 2 GiB would show; the daemon's own working set is well under this.
  assert.ok(maxRssKiB - baseline < 200 * 1024, `daemon grew from ${baseline} KiB to ${maxRssKiB} KiB`);
  assert.ok(slowestCallMs < 2000, `the daemon took ${slowestCallMs} ms to answer during the flood`);

  assert.equal(floodRun.status, 'ok');
  assert.equal(floodRun.truncated, true);
  // Stored: max-output of the job's bytes, plus dcron's own truncation note.
  assert.equal(floodRun.outputBytes, MiB + '\n[dcron: output truncated at 1 MiB]\n'.length);
  const floodLog = await cliBytes(['logs', 'flood']);
  assert.equal(floodLog.code, 0, floodLog.stderr);
  const zeros = floodLog.stdout.subarray(0, MiB);
  assert.ok(zeros.every((b) => b === 0));
  assert.equal(floodLog.stdout.subarray(MiB).toString(), '\n[dcron: output truncated at 1 MiB]\n');

  assert.equal(yesRun.status, 'timeout');
  assert.equal(yesRun.truncated, true);
  assert.ok(yesRun.outputBytes > 64 * 1024 && yesRun.outputBytes < 64 * 1024 + 200, String(yesRun.outputBytes));

  const ls = await cli(['ls'], { dataDir: ws.dataDir });
  assert.equal(ls.code, 0, ls.stderr);
});

test('jobs that leave processes holding their output end anyway; the processes are left running', { timeout: 60_000 }, async () => {
  const [bgRun, setsidRun] = await lingering;
  for (const name of ['bg', 'bg-setsid']) leftovers.push(await waitFor(`${name}'s background pid`, () => readPid(name)));
  for (const run of [bgRun, setsidRun]) {
    assert.equal(run.status, 'ok', JSON.stringify(run));
    assert.equal(run.exitCode, 0);
    // The shell exits at once; the run waits the executor's output linger (5 s) for the pipes, then lets go.
    assert.ok(run.endedMs! - run.startedMs < 15_000, `${run.job} took ${run.endedMs! - run.startedMs} ms`);
    const log = await cli(['logs', run.job], { dataDir: ws.dataDir });
    assert.match(log.stdout, /processes it left in the background still hold its output: left them running/);
  }
  // Both still there: once the run is over dcron no longer tracks them, as cron never did.
  for (const pid of leftovers) process.kill(pid, 0);
  const [job] = (JSON.parse((await cli(['ls', '--json'], { dataDir: ws.dataDir })).stdout) as Array<{ name: string; running?: unknown[] }>).filter((j) => j.name === 'bg');
  assert.deepEqual(job.running ?? [], [], 'no run of the job holds its overlap slot');
});

test('names that would escape the key namespace are located errors; quotes and SQL in values and arguments are only data', async () => {
  const status = await cli(['status'], { dataDir: ws.dataDir });
  assert.match(status.stdout, new RegExp(`${ws.crontab}:14:13: error: invalid name '\\.\\./\\.\\./etc'`));
  assert.match(status.stdout, new RegExp(`${ws.crontab}:16:13: error: invalid name 'x'\\); DROP TABLE runs; --'`));
  const ls = await cli(['ls', '--json'], { dataDir: ws.dataDir });
  const names = (JSON.parse(ls.stdout) as Array<{ name: string }>).map((j) => j.name).sort();
  assert.deepEqual(names, ['a..b', 'bg', 'bg-setsid', 'binary', 'flood', 'ok-after', 'yes']);

  const runId = await runNow('a..b');
  assert.equal((await finished(runId)).status, 'ok');
  const logs = await cli(['logs', 'a..b'], { dataDir: ws.dataDir });
  assert.equal(logs.stdout, `${SQL}\nits "quoted"\n`);

  const hostile = [SQL, '../../etc/passwd', `ö😀\u202e%${'x'.repeat(5000)}`];
  const calls = hostile.flatMap((h) => [['history', h], ['logs', h], ['run', h], ['kill', h], ['logs', 'a..b', '--run', h]]);
  await Promise.all(
    calls.map(async (args) => {
      const r = await cli(args, { dataDir: ws.dataDir });
      const what = `${JSON.stringify(args).slice(0, 80)}: ${r.code} ${r.stderr}`;
      assert.ok(r.code === 0 || r.code === 1, what);
      assert.doesNotMatch(r.stderr, /^\s+at |sqlite/im, what);
    }),
  );
  // The tables are intact and hold what they held.
  const history = await daemon.call<RunRecord[]>('history', { limit: 100 });
  assert.ok(history.some((r) => r.id === runId));
  assert.equal((await cli(['logs', 'a..b'], { dataDir: ws.dataDir })).stdout, `${SQL}\nits "quoted"\n`);
  assert.equal((await cliBytes(['logs', 'binary'])).stdout.length, BYTES.length);
});
