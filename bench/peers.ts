/**
 * Peers (issue 6, item 4): what users would otherwise pick, measured in the
 * same run with the same job command as the fire-latency bench.
 *
 * - Debian's `cron` (`cron -f`, root's crontab, SHELL=/bin/bash): delay of
 *   the job's first instruction ($EPOCHREALTIME) after the minute. cron has
 *   minute granularity, so this collects --cron-fires minutes (default 2).
 * - croner, an in-process Node cron library: its callback's delay after the
 *   scheduled second, and the job's start delay when the callback spawns the
 *   same command (1 and 100 jobs due in the same second).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, BenchResult } from './lib/types.js';
import { argValue, jobEnv, nextSecond, quantiles, readLedger, round, sleep, type Quantiles } from './lib/fire.js';

export const name = 'peers';

/** A bare Node process running croner: `mode` cb records callback delays; spawn runs the job command per tick. */
const CRONER_SRC = `
import { Cron } from 'croner';
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const [mode, n, startMs, seconds, outDir] = process.argv.slice(1).map((a, i) => (i >= 1 && i <= 3 ? Number(a) : a));
const endMs = startMs + seconds * 1000;
const jobs = [];
let running = 0;
for (let i = 0; i < n; i++) {
  const file = join(outDir, 'j' + i);
  const cmd = 'echo "$EPOCHREALTIME $DCRON_TICK_MS" >> ' + file;
  jobs.push(new Cron('* * * * * *', () => {
    const now = performance.timeOrigin + performance.now();
    // croner's currentRun() is the callback's start, not the scheduled second: take the second it lands in.
    const tick = Math.floor(now / 1000) * 1000;
    if (tick < startMs || tick >= endMs) return;
    if (mode === 'cb') { appendFileSync(file, ((now / 1000).toFixed(6)) + ' ' + tick + '\\n'); return; }
    running++;
    const ch = spawn('/bin/bash', ['-c', cmd], { env: { ...process.env, DCRON_TICK_MS: String(tick) }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    ch.on('close', () => running--);
    ch.stdin.end(); ch.stdout.resume(); ch.stderr.resume();
  }));
}
setTimeout(function done() {
  if (running > 0) return setTimeout(done, 50);
  for (const j of jobs) j.stop();
}, endMs - Date.now() + 200);
`;

async function croner(ctx: BenchContext, mode: 'cb' | 'spawn', n: number, seconds: number): Promise<Quantiles & { missing: number }> {
  const out = join(ctx.tmp, `croner-${mode}-${n}`, 'out');
  mkdirSync(out, { recursive: true });
  const start = nextSecond(1500);
  const child = spawn(process.execPath, ['--input-type=module', '-e', CRONER_SRC, mode, String(n), String(start), String(seconds), out], { cwd: ctx.root, env: jobEnv(), stdio: ['ignore', 'inherit', 'inherit'] });
  await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`croner child exited ${code}`)))));
  const l = readLedger(out, n, start, start + seconds * 1000);
  return { ...quantiles(l.latencies), missing: l.missing };
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const fires = Number(argValue(ctx.args, 'cron-fires') ?? 2);
  const seconds = Number(argValue(ctx.args, 'peer-seconds') ?? 15);
  const results: BenchResult[] = [];

  // cron: start it first; croner runs while cron waits for its minutes.
  let cron: ChildProcess | null = null;
  const cronOut = join(ctx.tmp, 'cron-out');
  let hadCrontab: string | null = null;
  const haveCron = existsSync('/usr/sbin/cron');
  if (!haveCron) ctx.log('no /usr/sbin/cron (apt-get install -y cron): cron figures skipped');
  else {
    try {
      execFileSync('pgrep', ['-x', 'cron']);
      throw new Error('a cron daemon is already running; stop it to measure cron');
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('a cron')) throw err;
    }
    try {
      hadCrontab = execFileSync('crontab', ['-l'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      hadCrontab = null;
    }
    const tab = join(ctx.tmp, 'cron.tab');
    writeFileSync(tab, `SHELL=/bin/bash\nMAILTO=""\nHOME=${jobEnv().HOME}\n* * * * * echo "$EPOCHREALTIME" >> ${cronOut}\n`);
    execFileSync('crontab', [tab]);
    cron = spawn('/usr/sbin/cron', ['-f'], { stdio: ['ignore', 'ignore', 'pipe'] });
    cron.stderr!.on('data', (d) => ctx.log(`cron: ${String(d).trim()}`));
  }
  const cronStarted = Date.now();
  try {
    const cb = await croner(ctx, 'cb', 1, seconds);
    const s1 = await croner(ctx, 'spawn', 1, seconds);
    const s100 = await croner(ctx, 'spawn', 100, seconds);
    const lib = `croner 11 in a bare Node process ('* * * * * *')`;
    results.push(
      { name: 'peers.croner.callback.p50', figure: round(cb.p50), unit: 'ms', how: `${lib}: callback's clock minus the scheduled second, ${cb.n} ticks over ${seconds} s` },
      { name: 'peers.croner.callback.p99', figure: round(cb.p99), unit: 'ms', how: `as above (max ${cb.max.toFixed(2)} ms)` },
      { name: 'peers.croner.spawn.1job.p50', figure: round(s1.p50), unit: 'ms', how: `${lib}: callback spawns the fire bench's job command (/bin/bash -c, detached, piped); job's $EPOCHREALTIME minus the second; ${s1.n} runs over ${seconds} s, ${s1.missing} missing` },
      { name: 'peers.croner.spawn.1job.p99', figure: round(s1.p99), unit: 'ms', how: `as above (max ${s1.max.toFixed(2)} ms)` },
      { name: 'peers.croner.spawn.100job.p50', figure: round(s100.p50), unit: 'ms', how: `as above with 100 Cron instances due in the same second; ${s100.n} runs, ${s100.missing} missing` },
      { name: 'peers.croner.spawn.100job.p99', figure: round(s100.p99), unit: 'ms', how: `as above (max ${s100.max.toFixed(2)} ms)` },
    );
    ctx.log(`croner: cb p99 ${cb.p99.toFixed(2)}, spawn1 p99 ${s1.p99.toFixed(2)}, spawn100 p99 ${s100.p99.toFixed(2)} ms`);

    if (cron) {
      const deadline = cronStarted + (fires + 1) * 60_000 + 5_000;
      const read = () => (existsSync(cronOut) ? readFileSync(cronOut, 'utf8').split('\n').filter(Boolean).map(Number) : []);
      ctx.log(`waiting for ${fires} cron minutes (up to ${Math.round((deadline - Date.now()) / 1000)} s)`);
      while (read().length < fires && Date.now() < deadline) await sleep(1000);
      const delays = read().map((t) => t * 1000 - Math.floor(t / 60) * 60_000);
      const q = quantiles(delays);
      const how = `Debian cron (cron -f, root crontab, SHELL=/bin/bash, '* * * * *'), same job command: $EPOCHREALTIME minus the minute; ${q.n} minutes (${delays.map((d) => d.toFixed(0)).join(', ')} ms)`;
      results.push(
        { name: 'peers.cron.delay.p50', figure: round(q.p50), unit: 'ms', how },
        { name: 'peers.cron.delay.max', figure: round(q.max), unit: 'ms', how },
      );
      ctx.log(`cron: ${delays.map((d) => d.toFixed(1)).join(', ')} ms`);
    }
  } finally {
    if (cron) {
      cron.kill('SIGTERM');
      await new Promise((r) => (cron!.exitCode !== null || cron!.signalCode !== null ? r(null) : cron!.once('exit', r)));
      if (hadCrontab !== null) {
        const back = join(ctx.tmp, 'cron.restore');
        writeFileSync(back, hadCrontab);
        execFileSync('crontab', [back]);
      } else {
        try {
          execFileSync('crontab', ['-r'], { stdio: 'ignore' });
        } catch {
          /* none */
        }
      }
    }
  }
  return results;
}
