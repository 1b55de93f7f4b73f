/**
 * Throughput (issue 6, item 2): the highest rate of ticks/s the three-daemon
 * cluster sustains with every tick run exactly once and on time, against the
 * lower of two floors measured in the same run on the same machine: the raw
 * claim-transaction rate of the same etcd and the spawn rate of the same
 * command. The rates tried are fractions of that floor (50 % to 100 % in
 * tenths), so the figure is read against the target at the resolution of
 * the target, whatever the machine. Options: --tp-seconds S (default 20),
 * --tp-steps 100,200,400 (fixed rates instead).
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CompareResult, CompareTarget, Etcd3 } from 'etcd3';
import { EtcdCluster } from '../test/helpers/etcd.js';
import type { BenchContext, BenchResult } from './lib/types.js';
import { argValue, Deployment, jobCommand, jobEnv, nextSecond, prepareJobs, quantiles, readLedger, round, settleLedger, sleep, waitAllStarted } from './lib/fire.js';

export const name = 'throughput';

/** A tick counts as on time if its run started before the job's next tick (1 s). */
const GRACE_MS = 1000;

/** Requests etcd has begun serving (grpc_server_started_total), by method, from its /metrics. */
async function etcdRequests(clientUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${clientUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^grpc_server_started_total\{grpc_method="(\w+)",[^}]*grpc_type="unary"\} (\d+)/gm)) out.set(m[1], Number(m[2]));
  return out;
}

/** Unary requests (everything but watches and keepalive streams) between two readings. */
function requestsBetween(a: Map<string, number>, b: Map<string, number>): { total: number; by: string } {
  const by = [...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const).filter(([, d]) => d > 0);
  return { total: by.reduce((s, [, d]) => s + d, 0), by: by.map(([k, d]) => `${k} ${d}`).join(', ') };
}

const enc = (s: string) => Buffer.from(s);
const tick16 = (t: number) => String(t).padStart(16, '0');

/**
 * Claim transactions like dcron's (IF cursor < tick THEN put cursor, put
 * last-claim) on `keys` distinct keys, `inFlight` at a time, for `ms`.
 */
async function claimFloor(endpoints: string, ms: number, inFlight: number, keys: number): Promise<number> {
  const client = new Etcd3({ hosts: endpoints.split(',') });
  try {
    let done = 0;
    let tick = Date.now();
    const end = performance.now() + ms;
    const worker = async (w: number) => {
      let k = w;
      while (performance.now() < end) {
        const key = `bench/claim/${k % keys}`;
        const t = tick16(++tick);
        await client.kv.txn({
          compare: [{ key: enc(key), target: CompareTarget.Value, result: CompareResult.Less, value: enc(t) }],
          success: [{ request_put: { key: enc(key), value: enc(`${t}|bench|x`), prev_kv: true } }, { request_put: { key: enc(`${key}/mine`), value: enc(`${t}|bench|x`) } }],
          failure: [{ request_range: { key: enc(key) } }],
        });
        done++;
        k += inFlight;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
    return done / ((performance.now() - t0) / 1000);
  } finally {
    client.close();
  }
}

/** Spawns of the job command (detached, piped, as dcron's executor), `inFlight` at a time, for `ms`. */
async function spawnFloor(dir: string, ms: number, inFlight: number): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let done = 0;
  const end = performance.now() + ms;
  const one = (file: string) =>
    new Promise<void>((resolve) => {
      const ch = spawn('/bin/bash', ['-c', jobCommand(file)], { env: { ...jobEnv(), DCRON_TICK_MS: String(Date.now()) }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      ch.stdin!.end();
      ch.stdout!.resume();
      ch.stderr!.resume();
      ch.on('close', () => resolve());
    });
  const worker = async (w: number) => {
    while (performance.now() < end) {
      await one(join(dir, `w${w}`));
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  return done / ((performance.now() - t0) / 1000);
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const seconds = Number(argValue(ctx.args, 'tp-seconds') ?? 20);
  const fixedSteps = argValue(ctx.args, 'tp-steps')?.split(',').map(Number);
  const etcd = await EtcdCluster.start(1);
  try {
    const claims = await claimFloor(etcd.endpoints, 5000, 64, 10_000);
    ctx.log(`claim floor: ${claims.toFixed(0)} txn/s`);
    const spawns = await spawnFloor(join(ctx.tmp, 'spawn-floor'), 5000, 32);
    ctx.log(`spawn floor: ${spawns.toFixed(0)} spawns/s`);
    const floor = Math.min(claims, spawns);
    // 50 %, 60 %, ... 100 % of the lower floor, rounded up to whole tens of jobs: passing the 70 % step meets the target.
    const steps = fixedSteps ?? [...new Set([0.5, 0.6, 0.7, 0.8, 0.9, 1.0].map((f) => Math.max(10, Math.ceil((floor * f) / 10) * 10)))];

    let best = 0;
    const stepNotes: string[] = [];
    let perTick: { figure: number; how: string } | null = null;
    for (const n of steps) {
      const dir = join(ctx.tmp, `step-${n}`);
      const { crontab, out } = prepareJobs(dir, n);
      const dep = await Deployment.cluster(dir, crontab, etcd);
      let ok = false;
      try {
        const warm = await waitAllStarted(out, n);
        if (warm < n) ctx.log(`${n}/s: only ${warm} of ${n} jobs had run 30 s after start`);
        const start = nextSecond(1000);
        await sleep(start - Date.now());
        const before = await etcdRequests(etcd.members[0].clientUrl);
        await sleep(start + seconds * 1000 - Date.now());
        const requests = requestsBetween(before, await etcdRequests(etcd.members[0].clientUrl));
        await sleep(GRACE_MS + 500);
        const l = await settleLedger(out, n, start, start + seconds * 1000);
        // What the cluster asks of etcd per tick (claims, run records, node registry): load-independent, unlike the rates.
        perTick ??= { figure: requests.total / (n * seconds), how: `unary etcd requests served while ${n} every-second jobs ran for ${seconds} s on three daemons, per tick (${requests.by}; etcd's grpc_server_started_total)` };
        const late = l.latencies.filter((x) => x > GRACE_MS).length;
        const q = quantiles(l.latencies);
        ok = l.missing === 0 && l.duplicates === 0 && late === 0;
        const note = `${n}/s: ${l.runs} runs, ${l.missing} missing, ${l.duplicates} dup, ${late} late, p99 ${q.p99.toFixed(0)} ms, max ${q.max.toFixed(0)} ms`;
        ctx.log(note);
        stepNotes.push(note);
      } finally {
        await dep.stop();
      }
      if (!ok) break;
      best = n;
      if (n > floor * 1.5) break;
    }
    const how = `three bin/dcron daemons on one loopback etcd, N every-second jobs for ${seconds} s per step (${stepNotes.join('; ')}); sustained = every tick in the window run exactly once (per-job files checked) and started within ${GRACE_MS} ms`;
    return [
      { name: 'throughput.claim_floor', figure: round(claims, 0), unit: 'ticks/s', how: 'etcd3 client, 64 txns in flight over 10,000 keys, each IF value < tick THEN put cursor + put last-claim (as dcron), 5 s, same etcd' },
      { name: 'throughput.spawn_floor', figure: round(spawns, 0), unit: 'ticks/s', how: 'spawn(/bin/bash -c job command, detached, piped) to exit, 32 in flight, 5 s, in the bench process' },
      ...(perTick ? [{ name: 'throughput.etcd_requests_per_tick', figure: round(perTick.figure, 3), unit: 'requests', how: perTick.how }] : []),
      { name: 'throughput.cluster', figure: best, unit: 'ticks/s', floor: round(floor, 0), target: round(floor * 0.7, 0), ratio: round(best / floor), pass: best >= floor * 0.7, how: how + `; steps ${steps.join(',')} (a lower bound: the next step failed or was not run)` },
    ];
  } finally {
    await etcd.stop();
  }
}
