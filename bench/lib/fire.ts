/**
 * Shared pieces of the bench modules: the job command (the shell's own clock
 * read, no extra fork), crontab generation, reading the per-job files back,
 * the bare-Node floor, and daemon/etcd start-up with guaranteed cleanup, the
 * daemons' job lists and run records.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess } from '../../test/helpers/daemon-process.js';
import { EtcdCluster } from '../../test/helpers/etcd.js';

/**
 * The job: bash's first instruction reads its own clock ($EPOCHREALTIME,
 * bash 5) and appends it with the scheduled instant to a per-job file. `echo`
 * is a builtin, so no fork happens between the shell starting and the read.
 * `extra` is appended to the line (e.g. ` $DCRON_HOST`).
 */
export function jobCommand(file: string, extra = ''): string {
  return `echo "$EPOCHREALTIME $DCRON_TICK_MS${extra}" >> ${file}`;
}

/** $EPOCHREALTIME (seconds.microseconds) as Unix ms, keeping the microseconds. */
export function epochMs(rt: string): number {
  const [sec, usec] = rt.split('.');
  return Number(sec) * 1000 + Number(usec) / 1000;
}

/** One line of a job's file (jobCommand): its first instruction's clock, its tick, and what `extra` wrote. */
export interface LedgerLine {
  atMs: number;
  tickMs: number;
  rest: string[];
}

/** The lines of one job's file; none when it does not exist yet. */
export function ledgerLines(file: string): LedgerLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: LedgerLine[] = [];
  for (const line of text.split('\n')) {
    const [rt, tick, ...rest] = line.split(' ');
    if (rt && tick) out.push({ atMs: epochMs(rt), tickMs: Number(tick), rest });
  }
  return out;
}

/** A crontab of `n` every-second jobs j0..j(n-1) writing to outDir/j<i>. */
export function everySecondCrontab(n: number, outDir: string): string {
  const lines = ['SHELL=/bin/bash', 'MAILTO=""'];
  for (let i = 0; i < n; i++) lines.push(`#dcron name=j${i}`, `* * * * * * ${jobCommand(join(outDir, `j${i}`))}`);
  return lines.join('\n') + '\n';
}

export interface Quantiles {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function quantiles(xs: number[]): Quantiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] : NaN);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1] : NaN };
}

export interface Ledger {
  /** start - scheduled, ms, for each run whose tick is in [fromMs, toMs). */
  latencies: number[];
  /** Ticks in the window expected (jobs x seconds) but not found. */
  missing: number;
  /** Extra lines for a tick already seen for that job. */
  duplicates: number;
  /** Runs in the window. */
  runs: number;
}

/** Reads outDir/j<i> for i < jobs and checks every second in [fromMs, toMs) ran exactly once per job. */
export function readLedger(outDir: string, jobs: number, fromMs: number, toMs: number): Ledger {
  const latencies: number[] = [];
  let missing = 0;
  let duplicates = 0;
  for (let i = 0; i < jobs; i++) {
    const seen = new Map<number, number>();
    for (const { atMs, tickMs: t } of ledgerLines(join(outDir, `j${i}`))) {
      if (t < fromMs || t >= toMs) continue;
      seen.set(t, (seen.get(t) ?? 0) + 1);
      latencies.push(atMs - t);
    }
    for (let t = fromMs; t < toMs; t += 1000) {
      const c = seen.get(t) ?? 0;
      if (c === 0) missing++;
      else duplicates += c - 1;
    }
  }
  return { latencies, missing, duplicates, runs: latencies.length };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The next whole second at least `leadMs` from now. */
export function nextSecond(leadMs: number): number {
  return Math.ceil((Date.now() + leadMs) / 1000) * 1000;
}

/**
 * The floor: a bare Node process that, for each second in [startMs,
 * startMs + seconds*1000), sets a timer to that instant and spawns the same
 * `/bin/bash -c` command for each of `n` jobs, as dcron's executor does
 * (detached, piped stdio, DCRON_TICK_MS in the environment). `commands`
 * (n of them) replaces the fire bench's job command, for a bench whose jobs
 * write something else.
 */
const FLOOR_SRC = `
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const [n, startMs, seconds, outDir, given] = process.argv.slice(1).map((a, i) => (i < 3 ? Number(a) : a));
const cmds = given ? JSON.parse(given) : Array.from({ length: n }, (_, i) => 'echo "$EPOCHREALTIME $DCRON_TICK_MS" >> ' + join(outDir, 'j' + i));
let left = seconds;
let running = 0;
function fire(tick) {
  const env = { ...process.env, DCRON_TICK_MS: String(tick) };
  for (const c of cmds) {
    const ch = spawn('/bin/bash', ['-c', c], { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    running++;
    ch.on('close', () => { if (--running === 0 && left === 0) process.exit(0); });
    ch.stdin.end(); ch.stdout.resume(); ch.stderr.resume();
  }
}
for (let k = 0; k < seconds; k++) {
  const tick = startMs + k * 1000;
  setTimeout(() => { left--; fire(tick); }, tick - Date.now());
}
`;

export async function runFloor(n: number, startMs: number, seconds: number, outDir: string, commands?: string[]): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const argv = [String(n), String(startMs), String(seconds), outDir, ...(commands ? [JSON.stringify(commands)] : [])];
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLOOR_SRC, ...argv], { stdio: ['ignore', 'inherit', 'inherit'], env: jobEnv() });
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`floor exited ${code}`))));
  });
}

/**
 * Environment for everything that spawns the job command (daemons, floors,
 * peers): HOME is an empty directory. Node's piped stdin is a socketpair, and
 * bash reads ~/.bashrc when stdin is a socket and SHLVL < 2 (its rshd check),
 * so with the real HOME each job would run this machine's .bashrc (pyenv
 * init) and the figures would measure that. See docs/BENCHMARKS.md.
 */
export function jobEnv(): NodeJS.ProcessEnv {
  const home = join(tmpdir(), 'dcron-bench-home');
  mkdirSync(home, { recursive: true });
  return { ...process.env, HOME: home };
}

/** Single host or three daemons on one etcd, all stopped by stop(). */
export class Deployment {
  private constructor(readonly daemons: DaemonProcess[], private readonly etcd: EtcdCluster | null) {}

  /** One `bin/dcron daemon` on its embedded store, running `crontab`. */
  static async single(dir: string, crontab: string): Promise<Deployment> {
    return new Deployment([await DaemonProcess.launch({ dataDir: join(dir, 'data'), args: ['--crontab', crontab, '--node-id', 'b1', '--log-level', 'warn'], env: jobEnv() })], null);
  }

  /** Three daemons on `etcd` (else a fresh single-member one); n1 publishes `crontab`, n2 and n3 follow; `daemonArgs` go to each. */
  static async cluster(dir: string, crontab: string, etcd?: EtcdCluster, daemonArgs: readonly string[] = []): Promise<Deployment> {
    const own = etcd ? null : await EtcdCluster.start(1);
    const e = etcd ?? own!;
    const daemons: DaemonProcess[] = [];
    const cluster = `bench${Date.now()}`;
    try {
      for (const id of ['n1', 'n2', 'n3']) {
        const args = ['--etcd', e.endpoints, '--node-id', id, '--cluster', cluster, '--log-level', 'warn', ...daemonArgs];
        daemons.push(await DaemonProcess.launch({ dataDir: join(dir, `data-${id}`), args: id === 'n1' ? [...args, '--crontab', crontab] : args, env: jobEnv() }));
      }
    } catch (err) {
      await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
      await own?.stop();
      throw err;
    }
    return new Deployment(daemons, own);
  }

  /** Waits until every daemon lists `job` in its own job table (followers have the cluster's list). */
  async waitListed(job: string, timeoutMs = 30_000): Promise<void> {
    for (const d of this.daemons) {
      const deadline = Date.now() + timeoutMs;
      while (!(await d.call<Array<{ name: string }>>('ls')).some((j) => j.name === job)) {
        if (Date.now() > deadline) throw new Error(`a daemon did not list ${job} within ${timeoutMs} ms`);
        await sleep(200);
      }
    }
  }

  /** Every daemon's run records of `job` (a cluster daemon adds the others' summaries; union by id). */
  async history(job: string): Promise<RunRecord[]> {
    const byId = new Map<string, RunRecord>();
    for (const d of this.daemons) for (const r of await d.call<RunRecord[]>('history', { job, limit: 10_000 })) byId.set(r.id, r);
    return [...byId.values()];
  }

  async stop(): Promise<void> {
    await Promise.all(this.daemons.map((d) => Promise.race([d.stop(), sleep(15_000).then(() => d.stop('SIGKILL'))])));
    await this.etcd?.stop();
  }
}

/** Writes a crontab of n every-second jobs into dir and returns its path and out dir. */
export function prepareJobs(dir: string, n: number): { crontab: string; out: string } {
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  const crontab = join(dir, 'crontab');
  writeFileSync(crontab, everySecondCrontab(n, out));
  return { crontab, out };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Value of a `--name value` or `--name=value` in ctx.args. */
export function argValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

/** Waits until every job j0..j(n-1) has written its file at least once (the deployment is warm); returns how many had, at most timeoutMs later. */
export async function waitAllStarted(outDir: string, n: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (readdirSync(outDir).length < n && Date.now() < deadline) await sleep(100);
  return readdirSync(outDir).length;
}

/**
 * readLedger once the window's runs have landed: polls until nothing is
 * missing, or the count has not grown for 3 s, or 30 s have passed (late
 * runs are still counted, with their latency, rather than called missing).
 */
export async function settleLedger(outDir: string, jobs: number, fromMs: number, toMs: number): Promise<Ledger> {
  const deadline = Date.now() + 30_000;
  let last = readLedger(outDir, jobs, fromMs, toMs);
  let stableSince = Date.now();
  while (last.missing > 0 && Date.now() < deadline && Date.now() - stableSince < 3000) {
    await sleep(500);
    const next = readLedger(outDir, jobs, fromMs, toMs);
    if (next.runs !== last.runs) stableSince = Date.now();
    last = next;
  }
  return last;
}
