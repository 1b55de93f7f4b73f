/**
 * Sharded jobs and dependencies (issue 12): one `shards=64` job every 10 s
 * plus an `after=` child, on one host and on three daemons sharing one real
 * etcd, each mode right after the bare-Node floor of the same 64 spawns.
 *
 * Every figure is read from the job's own clock ($EPOCHREALTIME, bash's
 * first and last instruction), not from run records: a record's startedMs is
 * written before the spawn (or is the planned start when a claim waits), so
 * it would leave out the spawn, which is what the floor measures. Run records
 * (`history`, from every daemon) serve to count runs and to split the child's
 * delay at the daemon's view of each shard's end (endedMs, the exit seen).
 *
 *   tick -> last shard start  per tick, the latest shard's first instruction
 *                             minus the scheduled instant; floor: 64 spawns of
 *                             the same command from a bare Node timer
 *   last shard end -> child   the child's first instruction minus the latest
 *                             shard's last instruction, for the same tick
 *   spread                    shards per host per tick (max, min) and overall
 *   exactly once              every shard of every tick started once, by the
 *                             shards' lines and by the run records
 *
 * Options: --shard-ticks N (default 6: one minute a mode), --shards N
 * (default 64), --shard-modes single,cluster.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../src/daemon/runlog/types.js';
import { EtcdCluster } from '../test/helpers/etcd.js';
import type { BenchContext, BenchResult } from './lib/types.js';
import { argValue, Deployment, epochMs, quantiles, round, runFloor, sleep, type Quantiles } from './lib/fire.js';

export const name = 'shards';

const PERIOD_MS = 10_000;
const PARENT = 'fan';
const CHILD = 'fanin';
const TARGET_MS = { single: 50, cluster: 100 } as const;

/** `s`/`e` lines: a shard's first and last instruction; `c`: the child's first. echo is a builtin: no fork between them and the clock read. */
function shardCommand(file: string, shard = '$DCRON_SHARD', host = '$DCRON_HOST'): string {
  return `echo "s $EPOCHREALTIME $DCRON_TICK_MS ${shard} ${host}" >> ${file}; echo "e $EPOCHREALTIME $DCRON_TICK_MS ${shard} ${host}" >> ${file}`;
}

function crontab(shards: number, file: string): string {
  return [
    'SHELL=/bin/bash',
    'MAILTO=""',
    `#dcron name=${PARENT} shards=${shards}`,
    `*/10 * * * * * ${shardCommand(file)}`,
    // The child's DCRON_TICK_MS is its parent's tick: that pairs it with the shards it followed.
    `#dcron name=${CHILD} after=${PARENT}`,
    `@after echo "c $EPOCHREALTIME $DCRON_TICK_MS - $DCRON_HOST $DCRON_TRIGGER" >> ${file}`,
    '',
  ].join('\n');
}

interface Tick {
  starts: Map<number, number[]>; // shard -> start ms of each run (more than one: a duplicate)
  lastStart: number;
  lastEnd: number;
  hosts: Map<string, number>;
  child: number[]; // the child's start(s) for this parent tick
  childHost: string | null;
}

/** Groups the ledger's lines by tick, for ticks in `ticks`. */
function readTicks(file: string, ticks: number[]): Map<number, Tick> {
  const out = new Map<number, Tick>(ticks.map((t) => [t, { starts: new Map(), lastStart: -Infinity, lastEnd: -Infinity, hosts: new Map(), child: [], childHost: null }]));
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [kind, rt, tickS, shardS, host] = line.split(' ');
    const t = out.get(Number(tickS));
    if (!t || !rt) continue;
    const at = epochMs(rt);
    if (kind === 's') {
      const shard = Number(shardS);
      t.starts.set(shard, [...(t.starts.get(shard) ?? []), at]);
      t.lastStart = Math.max(t.lastStart, at);
      t.hosts.set(host, (t.hosts.get(host) ?? 0) + 1);
    } else if (kind === 'e') t.lastEnd = Math.max(t.lastEnd, at);
    else if (kind === 'c') {
      t.child.push(at);
      t.childHost = host;
    }
  }
  return out;
}

function complete(ticks: Map<number, Tick>, shards: number): boolean {
  return [...ticks.values()].every((t) => t.starts.size === shards && t.child.length > 0 && Number.isFinite(t.lastEnd));
}

/** Duplicate and missing shard starts over the window. */
function onceCheck(ticks: Map<number, Tick>, shards: number): { duplicates: number; missing: number; childDuplicates: number; childMissing: number } {
  let duplicates = 0;
  let missing = 0;
  let childDuplicates = 0;
  let childMissing = 0;
  for (const t of ticks.values()) {
    for (let i = 0; i < shards; i++) {
      const n = t.starts.get(i)?.length ?? 0;
      if (n === 0) missing++;
      else duplicates += n - 1;
    }
    if (t.child.length === 0) childMissing++;
    else childDuplicates += t.child.length - 1;
  }
  return { duplicates, missing, childDuplicates, childMissing };
}

interface ModeResult {
  tickToLast: Quantiles;
  endToChild: Quantiles;
  /** Latest shard's exit as the daemon recorded it (endedMs) -> child start: what the ledger and claim add. */
  endedToChild: Quantiles;
  /** Latest shard's last instruction -> latest endedMs: the exit as seen by the daemon. */
  exitSeen: Quantiles;
  perTickSpread: Array<{ tick: number; hosts: Record<string, number> }>;
  totals: Record<string, number>;
  childHosts: Record<string, number>;
  once: ReturnType<typeof onceCheck>;
  /** Run records of the window: parent (tick, shard) pairs with other than one record, and child ticks likewise. */
  recordDuplicates: number;
  recordMissing: number;
  notOk: number;
  ticks: number;
}

async function measureMode(ctx: BenchContext, dir: string, mode: 'single' | 'cluster', shards: number, tickCount: number, etcd: EtcdCluster | null): Promise<ModeResult> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'ledger');
  const tab = join(dir, 'crontab');
  writeFileSync(tab, crontab(shards, file));
  const dep = mode === 'single' ? await Deployment.single(dir, tab) : await Deployment.cluster(dir, tab, etcd!);
  try {
    // Followers must have the job list before the window; ls answers from each daemon's own table.
    await dep.waitListed(CHILD);
    // The first tick after start is warm-up (the child's cursor starts then); the window begins one period later.
    const first = Math.ceil((Date.now() + 1000) / PERIOD_MS) * PERIOD_MS + PERIOD_MS;
    const ticks = Array.from({ length: tickCount }, (_, k) => first + k * PERIOD_MS);
    const last = ticks[ticks.length - 1];
    ctx.log(`${mode}: window ${new Date(first).toISOString()} .. +${tickCount} ticks`);
    await sleep(last - Date.now() + 500);
    // Poll until the last tick's shards and child have all written, then 2 s more for any late duplicate.
    const deadline = last + 9000;
    while (!complete(readTicks(file, ticks), shards) && Date.now() < deadline) await sleep(250);
    await sleep(Math.min(2000, Math.max(0, last + 9000 - Date.now())));
    const byTick = readTicks(file, ticks);

    const inWindow = (r: RunRecord) => ticks.includes(r.tickMs);
    const parentRecs = (await dep.history(PARENT)).filter(inWindow);
    const childRecs = (await dep.history(CHILD)).filter(inWindow);
    const recCount = new Map<string, number>();
    for (const r of parentRecs) recCount.set(`${r.tickMs}/${r.shard}`, (recCount.get(`${r.tickMs}/${r.shard}`) ?? 0) + 1);
    for (const r of childRecs) recCount.set(`${r.tickMs}/child`, (recCount.get(`${r.tickMs}/child`) ?? 0) + 1);
    let recordDuplicates = 0;
    let recordMissing = 0;
    for (const t of ticks)
      for (const key of [...Array.from({ length: shards }, (_, i) => `${t}/${i}`), `${t}/child`]) {
        const n = recCount.get(key) ?? 0;
        if (n === 0) recordMissing++;
        else recordDuplicates += n - 1;
      }
    const notOk = [...parentRecs, ...childRecs].filter((r) => r.status !== 'ok').length;

    const tickToLast: number[] = [];
    const endToChild: number[] = [];
    const endedToChild: number[] = [];
    const exitSeen: number[] = [];
    const totals: Record<string, number> = {};
    const childHosts: Record<string, number> = {};
    const perTickSpread: ModeResult['perTickSpread'] = [];
    for (const t of ticks) {
      const x = byTick.get(t)!;
      if (Number.isFinite(x.lastStart)) tickToLast.push(x.lastStart - t);
      const childStart = x.child.length ? Math.min(...x.child) : NaN;
      if (x.child.length && Number.isFinite(x.lastEnd)) endToChild.push(childStart - x.lastEnd);
      const ended = parentRecs.filter((r) => r.tickMs === t && r.endedMs !== null).map((r) => r.endedMs!);
      if (ended.length && x.child.length) endedToChild.push(childStart - Math.max(...ended));
      if (ended.length && Number.isFinite(x.lastEnd)) exitSeen.push(Math.max(...ended) - x.lastEnd);
      perTickSpread.push({ tick: t, hosts: Object.fromEntries(x.hosts) });
      for (const [h, n] of x.hosts) totals[h] = (totals[h] ?? 0) + n;
      if (x.childHost) childHosts[x.childHost] = (childHosts[x.childHost] ?? 0) + 1;
    }
    return {
      tickToLast: quantiles(tickToLast),
      endToChild: quantiles(endToChild),
      endedToChild: quantiles(endedToChild),
      exitSeen: quantiles(exitSeen),
      perTickSpread,
      totals,
      childHosts,
      once: onceCheck(byTick, shards),
      recordDuplicates,
      recordMissing,
      notOk,
      ticks: tickCount,
    };
  } finally {
    await dep.stop();
    ctx.log(`${mode} stopped`);
  }
}

/**
 * The floor: `shards` spawns of the shard command from a bare Node timer, at
 * `tickCount` instants; per instant, the last start. One floor process per
 * instant, each waiting for its spawns to end, so no instant's spawns overlap
 * the previous one's (as the daemon's ticks, 10 s apart, do not).
 */
async function measureFloor(dir: string, shards: number, tickCount: number): Promise<Quantiles> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'ledger');
  // Shard index and host written in literally: the same shell work as the daemon's command, with no dcron environment to read.
  const commands = Array.from({ length: shards }, (_, i) => shardCommand(file, String(i), 'floor'));
  const ticks: number[] = [];
  for (let k = 0; k < tickCount; k++) {
    // 1.5 s lead: the floor's own Node start-up is over before its instant.
    const at = Math.ceil((Date.now() + 1500) / 1000) * 1000;
    ticks.push(at);
    await runFloor(shards, at, 1, dir, commands);
  }
  return quantiles([...readTicks(file, ticks).values()].map((x, k) => x.lastStart - ticks[k]));
}

const q3 = (q: Quantiles) => `p50 ${q.p50.toFixed(1)} p99 ${q.p99.toFixed(1)} max ${q.max.toFixed(1)} ms`;

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const tickCount = Number(argValue(ctx.args, 'shard-ticks') ?? 6);
  const shards = Number(argValue(ctx.args, 'shards') ?? 64);
  const modes = (argValue(ctx.args, 'shard-modes') ?? 'single,cluster').split(',') as Array<'single' | 'cluster'>;
  const results: BenchResult[] = [];
  const etcd = modes.includes('cluster') ? await EtcdCluster.start(1) : null;
  try {
    for (const mode of modes) {
      // The floor right before each mode, so both see the machine as it is then.
      // The machine is shared: its load at the start of each mode goes with the figures.
      const load = loadavg()[0].toFixed(1);
      const floor = await measureFloor(join(ctx.tmp, `floor-${mode}`), shards, tickCount);
      ctx.log(`load ${load}; floor (${shards} bare spawns, last start): ${q3(floor)}`);
      const m = await measureMode(ctx, join(ctx.tmp, mode), mode, shards, tickCount, etcd);
      const where = mode === 'single' ? 'one bin/dcron daemon (SQLite)' : 'three bin/dcron daemons on one loopback etcd (n1 publishes the crontab)';
      const setup = `${where}, '#dcron shards=${shards}' job '*/10 * * * * *' (SHELL=/bin/bash, each shard appends $EPOCHREALTIME as first and last instruction) + '#dcron after=${PARENT}' child; ${m.ticks} ticks after one warm-up tick`;
      const once = `${m.once.duplicates} duplicate / ${m.once.missing} missing shard starts, ${m.once.childDuplicates}/${m.once.childMissing} child; run records ${m.recordDuplicates} duplicate / ${m.recordMissing} missing, ${m.notOk} not ok`;
      const clean = m.once.duplicates + m.once.missing + m.once.childDuplicates + m.once.childMissing + m.recordDuplicates + m.recordMissing + m.notOk === 0;
      const spread = m.perTickSpread.map((s) => Object.values(s.hosts));
      ctx.log(`${mode}: tick->last shard start ${q3(m.tickToLast)}; last shard end->child ${q3(m.endToChild)} (endedMs->child ${q3(m.endedToChild)}); ${once}`);
      ctx.log(`${mode}: per tick ${m.perTickSpread.map((s) => JSON.stringify(s.hosts)).join(' ')}; child on ${JSON.stringify(m.childHosts)}`);
      const target = TARGET_MS[mode];
      results.push(
        { name: `shards.floor.${mode}.last-start.p50`, figure: round(floor.p50), unit: 'ms', how: `bare Node setTimeout to each whole second, then spawn(/bin/bash -c, detached, piped) of the same shard command ${shards} times; last first-instruction minus the instant, ${floor.n} instants, just before the ${mode} run (1-min load average ${load})` },
        { name: `shards.floor.${mode}.last-start.p99`, figure: round(floor.p99), unit: 'ms', how: `as above (max of ${floor.n})` },
        { name: `shards.${mode}.tick-to-last-start.p50`, figure: round(m.tickToLast.p50), unit: 'ms', floor: round(floor.p50), ratio: round(m.tickToLast.p50 / floor.p50), how: `${setup}: latest shard's first instruction minus the tick, per tick` },
        { name: `shards.${mode}.tick-to-last-start.p99`, figure: round(m.tickToLast.p99), unit: 'ms', floor: round(floor.p99), ratio: round(m.tickToLast.p99 / floor.p99), how: `as above; p99 of ${m.tickToLast.n} ticks is their max` },
        { name: `shards.${mode}.end-to-child.p50`, figure: round(m.endToChild.p50), unit: 'ms', how: `${setup}: child's first instruction minus the latest shard's last instruction, same tick` },
        {
          name: `shards.${mode}.end-to-child.p99`,
          figure: round(m.endToChild.p99),
          unit: 'ms',
          target,
          pass: m.endToChild.p99 < target && m.endToChild.n === m.ticks && clean,
          how: `as above, p99 of ${m.endToChild.n} ticks (their max); target < ${target} ms and every run exactly once: ${once}`,
        },
        { name: `shards.${mode}.ended-to-child.p99`, figure: round(m.endedToChild.p99), unit: 'ms', how: `child's first instruction minus the latest shard run record's endedMs (the exit as the daemon saw it), max of ${m.endedToChild.n} ticks (p50 ${m.endedToChild.p50.toFixed(1)}); the rest of end-to-child is the exit being seen: last instruction -> endedMs p50 ${m.exitSeen.p50.toFixed(1)} max ${m.exitSeen.max.toFixed(1)} ms` },
        // Counted from the jobs' own lines; the run records are the cross-check, and must agree for a pass.
        { name: `shards.${mode}.duplicates`, figure: m.once.duplicates + m.once.childDuplicates, unit: 'runs', target: 0, pass: m.once.duplicates + m.once.childDuplicates + m.recordDuplicates === 0, how: `shard and child starts beyond one per tick: ${once}` },
        { name: `shards.${mode}.missing`, figure: m.once.missing + m.once.childMissing, unit: 'runs', target: 0, pass: m.once.missing + m.once.childMissing + m.recordMissing === 0, how: `shard and child starts absent for a tick: ${once}` },
      );
      if (mode === 'cluster') {
        const mins = spread.map((c) => (c.length < 3 ? 0 : Math.min(...c)));
        const ratios = spread.map((c, i) => Math.max(...c) / Math.max(1, mins[i]));
        const tot = Object.values(m.totals);
        results.push(
          { name: 'shards.cluster.spread.per-tick.max', figure: Math.max(...spread.map((c) => Math.max(...c))), unit: 'shards', how: `most shards one host ran in one tick (per tick, host counts: ${m.perTickSpread.map((s) => Object.entries(s.hosts).map(([h, n]) => `${h}=${n}`).join(',')).join(' | ')})` },
          { name: 'shards.cluster.spread.per-tick.min', figure: Math.min(...mins), unit: 'shards', how: `fewest shards one of the three hosts ran in one tick (0 when a host ran none); worst max/min ratio in a tick ${Math.max(...ratios).toFixed(2)}` },
          { name: 'shards.cluster.spread.overall.max-over-min', figure: round(tot.length < 3 ? NaN : Math.max(...tot) / Math.min(...tot)), unit: 'ratio', how: `all ${m.ticks} ticks: ${Object.entries(m.totals).map(([h, n]) => `${h}=${n}`).join(', ')} (even: ${((shards * m.ticks) / 3).toFixed(1)} each); child ran on ${Object.entries(m.childHosts).map(([h, n]) => `${h} x${n}`).join(', ')}` },
        );
      }
    }
  } finally {
    await etcd?.stop();
  }
  return results;
}
