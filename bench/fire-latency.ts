/**
 * Fire latency (issue 6, item 1): scheduled instant to the job's first
 * instruction, for 1, 100 and 500 every-second jobs, on one host and on three
 * daemons sharing one etcd, each back to back with the bare-Node floor at the
 * same N. Options: --fire-seconds S (default 15), --fire-jobs 1,100,500.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster } from '../test/helpers/etcd.js';
import type { BenchContext, BenchResult } from './lib/types.js';
import { argValue, Deployment, nextSecond, prepareJobs, quantiles, readLedger, round, settleLedger, runFloor, sleep, waitAllStarted, type Ledger } from './lib/fire.js';

export const name = 'fire';

async function measureDcron(ctx: BenchContext, dir: string, n: number, seconds: number, mode: 'single' | 'cluster', etcd: EtcdCluster): Promise<Ledger & { warm: number }> {
  const { crontab, out } = prepareJobs(dir, n);
  const dep = mode === 'single' ? await Deployment.single(dir, crontab) : await Deployment.cluster(dir, crontab, etcd);
  try {
    // Warm-up (job list published and followed, every job's first tick) is not counted.
    const warm = await waitAllStarted(out, n);
    if (warm < n) ctx.log(`${mode} n=${n}: only ${warm} of ${n} jobs had run 30 s after start; measuring anyway`);
    const start = nextSecond(1000);
    await sleep(start + seconds * 1000 - Date.now() + 1500);
    return { ...(await settleLedger(out, n, start, start + seconds * 1000)), warm };
  } finally {
    await dep.stop();
    ctx.log(`${mode} n=${n} stopped`);
  }
}

async function measureFloor(dir: string, n: number, seconds: number): Promise<Ledger> {
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  const start = nextSecond(500);
  await runFloor(n, start, seconds, out);
  return settleLedger(out, n, start, start + seconds * 1000);
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const seconds = Number(argValue(ctx.args, 'fire-seconds') ?? 15);
  const sizes = (argValue(ctx.args, 'fire-jobs') ?? '1,100,500').split(',').map(Number);
  const results: BenchResult[] = [];
  const etcd = await EtcdCluster.start(1);
  try {
    for (const n of sizes) {
      const floor = await measureFloor(join(ctx.tmp, `floor-${n}`), n, seconds);
      const fq = quantiles(floor.latencies);
      ctx.log(`floor n=${n}: p50 ${fq.p50.toFixed(2)} p99 ${fq.p99.toFixed(2)} max ${fq.max.toFixed(2)} ms (${floor.runs} runs, ${floor.missing} missing)`);
      const floorHow = `bare Node setTimeout to each whole second, then spawn(/bin/bash -c, detached, piped) of ${n} jobs that append $EPOCHREALTIME; ${fq.n} runs over ${seconds} s (${floor.missing} missing)`;
      results.push(
        { name: `fire.floor.${n}job.p50`, figure: round(fq.p50), unit: 'ms', how: floorHow },
        { name: `fire.floor.${n}job.p99`, figure: round(fq.p99), unit: 'ms', how: floorHow },
        { name: `fire.floor.${n}job.max`, figure: round(fq.max), unit: 'ms', how: floorHow },
      );
      for (const mode of ['single', 'cluster'] as const) {
        const l = await measureDcron(ctx, join(ctx.tmp, `${mode}-${n}`), n, seconds, mode, etcd);
        const q = quantiles(l.latencies);
        ctx.log(`${mode} n=${n}: p50 ${q.p50.toFixed(2)} p99 ${q.p99.toFixed(2)} max ${q.max.toFixed(2)} ms (${l.runs} runs, ${l.missing} missing, ${l.duplicates} dup)`);
        const where = mode === 'single' ? 'one bin/dcron daemon (SQLite)' : 'three bin/dcron daemons on one loopback etcd';
        const how = `${where}, ${n} every-second jobs (SHELL=/bin/bash, job appends $EPOCHREALTIME and DCRON_TICK_MS); ${q.n} runs over ${seconds} s counted from 1 s after every job has run once${l.warm < n ? ` (only ${l.warm} of ${n} had, 30 s after start)` : ''}, ${l.missing} missing, ${l.duplicates} duplicate; floor measured just before at the same N`;
        const target = n === 1 ? fq.p99 + (mode === 'single' ? 3 : 10) : fq.p99 * 1.25;
        results.push(
          { name: `fire.${mode}.${n}job.p50`, figure: round(q.p50), unit: 'ms', floor: round(fq.p50), ratio: round(q.p50 / fq.p50), how },
          {
            name: `fire.${mode}.${n}job.p99`,
            figure: round(q.p99),
            unit: 'ms',
            floor: round(fq.p99),
            target: round(target),
            ratio: round(q.p99 / fq.p99),
            pass: q.p99 <= target && l.missing === 0 && l.duplicates === 0,
            how: how + (n === 1 ? ` ; target: floor p99 + ${mode === 'single' ? 3 : 10} ms` : ' ; target: floor p99 x 1.25'),
          },
          { name: `fire.${mode}.${n}job.max`, figure: round(q.max), unit: 'ms', floor: round(fq.max), ratio: round(q.max / fq.max), how },
        );
      }
    }
  } finally {
    await etcd.stop();
  }
  return results;
}
