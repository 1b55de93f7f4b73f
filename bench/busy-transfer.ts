/**
 * Busy transfer (`--slots`): with hosts full, how long a tick takes to find
 * the host with room. Three daemons on one real etcd, each `--slots 1`; a
 * probe job due every second (`* * * * * *`) runs through three phases, with
 * k = 0, 1, 2 hosts full: a filler job pinned to the host (`#dcron
 * hosts=n1`, `sleep`), started with `run` (as `dcron run fill-n1`), holds
 * its one slot for the rest of the bench, so a probe tick placed there is
 * passed on to the next host in its rendezvous order.
 *
 * Per probe tick: the full hosts ranked before the first free one in that
 * tick's order, from the daemon's own `placementOrder`, and the delay the
 * daemon gives that host (`claimDelay`, count x `--claim-handicap`, the
 * default DAEMON_DEFAULTS.handicapMs). Latency is the probe's first
 * instruction ($EPOCHREALTIME, as in the fire bench) minus DCRON_TICK_MS,
 * grouped by that count. The target for a count c is c x handicap + the
 * floor: the same latency in phase k = 0 of the same run (no host full: the
 * preferred host claims ahead of the tick and spawns at it). The run records
 * (`history` from every daemon) count every tick a second way, name its host
 * and give startedMs, written when the late claim has landed, before the
 * spawn: that splits a transfer's time into claim and spawn.
 *
 * Options: --busy-ticks K0,K1,K2 (default 15,25,55: ticks counted per phase;
 * the k=2 phase is the longest, as only a third of its ticks rank both full
 * hosts first).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { claimDelay, placementOrder } from '../src/daemon/cluster/rendezvous.js';
import { DAEMON_DEFAULTS } from '../src/daemon/config/daemon-config.js';
import type { NodeView, RunStartView } from '../src/daemon/control/api-types.js';
import type { RunRecord } from '../src/daemon/runlog/types.js';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { waitFor } from '../test/helpers/wait.js';
import type { BenchContext, BenchResult } from './lib/types.js';
import { argValue, Deployment, jobCommand, ledgerLines, nextSecond, quantiles, round, settleLedger, sleep, waitAllStarted, type Quantiles } from './lib/fire.js';

export const name = 'busy-transfer';

const NODES = ['n1', 'n2', 'n3'];
const PROBE = 'probe';
/** The filler of each host that is made full, in the order the phases fill them. */
const FILLERS = [
  { job: 'fill-n1', host: 'n1' },
  { job: 'fill-n2', host: 'n2' },
];
const HANDICAP_MS = DAEMON_DEFAULTS.handicapMs;

function crontab(out: string): string {
  const lines = ['SHELL=/bin/bash', 'MAILTO=""', `#dcron name=${PROBE}`, `* * * * * * ${jobCommand(join(out, 'j0'), ' $DCRON_HOST')}`];
  // Never due (30 February): a filler runs only when the bench starts it, on its one eligible host.
  for (const f of FILLERS) lines.push(`#dcron name=${f.job} hosts=${f.host}`, '0 0 30 2 * sleep 600');
  return lines.join('\n') + '\n';
}

interface Phase {
  /** Hosts whose slot a filler holds. */
  full: Set<string>;
  fromMs: number;
  toMs: number;
}

interface TickResult {
  tickMs: number;
  phase: number;
  /** Full hosts ranked before the first free host in the tick's rendezvous order. */
  fullBefore: number;
  /** claimDelay of the first free host: fullBefore x handicap. */
  expectedDelayMs: number;
  predicted: string;
  /** Host and latency (first instruction - tick) of each start seen for the tick. */
  starts: Array<{ host: string; latencyMs: number }>;
  records: RunRecord[];
}

/** Every tick of every phase, with the probe's starts and records. */
function analyse(out: string, phases: Phase[], records: RunRecord[]): TickResult[] {
  const lines = ledgerLines(join(out, 'j0'));
  const ticks: TickResult[] = [];
  phases.forEach((p, phase) => {
    for (let t = p.fromMs; t < p.toMs; t += 1000) {
      const order = placementOrder(PROBE, t, NODES);
      const predicted = order.find((n) => !p.full.has(n))!;
      ticks.push({
        tickMs: t,
        phase,
        fullBefore: order.indexOf(predicted),
        expectedDelayMs: claimDelay(PROBE, t, predicted, NODES, HANDICAP_MS)!,
        predicted,
        starts: lines.filter((l) => l.tickMs === t).map((l) => ({ host: l.rest[0], latencyMs: l.atMs - t })),
        records: records.filter((r) => r.tickMs === t),
      });
    }
  });
  return ticks;
}

interface Checks {
  duplicates: number;
  missing: number;
  onFullHost: number;
  offPrediction: number;
  recordDuplicates: number;
  recordMissing: number;
  notOk: number;
  text: string;
}

function checks(ticks: TickResult[], phases: Phase[]): Checks {
  let duplicates = 0;
  let missing = 0;
  let onFullHost = 0;
  let offPrediction = 0;
  let recordDuplicates = 0;
  let recordMissing = 0;
  let notOk = 0;
  for (const t of ticks) {
    const full = phases[t.phase].full;
    if (t.starts.length === 0) missing++;
    else duplicates += t.starts.length - 1;
    if (t.records.length === 0) recordMissing++;
    else recordDuplicates += t.records.length - 1;
    notOk += t.records.filter((r) => r.status !== 'ok').length;
    onFullHost += t.starts.filter((s) => full.has(s.host)).length + t.records.filter((r) => full.has(r.host)).length;
    offPrediction += t.starts.filter((s) => s.host !== t.predicted).length;
  }
  const text = `${duplicates} duplicate / ${missing} missing probe starts, ${onFullHost} on a full host; run records ${recordDuplicates} duplicate / ${recordMissing} missing, ${notOk} not ok; ${offPrediction} starts on another host than the first free one in rendezvous order`;
  return { duplicates, missing, onFullHost, offPrediction, recordDuplicates, recordMissing, notOk, text };
}

const q3 = (q: Quantiles) => `p50 ${q.p50.toFixed(1)} p99 ${q.p99.toFixed(1)} max ${q.max.toFixed(1)} ms (n=${q.n})`;

/**
 * Starts the filler on its host and waits until its run record shows it
 * running there. Asked of that host's own daemon (`dcron run fill-n2
 * --data-dir` n2's): asked elsewhere, `run` can pick the asking node though
 * the job's hosts= excludes it (runSomewhere's eligible list adds the node
 * itself without its selector), which the first version of this bench met.
 */
async function fill(dep: Deployment, f: (typeof FILLERS)[number]): Promise<RunRecord> {
  const started = await dep.daemons[NODES.indexOf(f.host)].call<RunStartView>('run', { job: f.job });
  if (started.outcome !== 'started') throw new Error(`${f.job} did not start: ${started.outcome} ${started.message ?? ''}`);
  const run = await waitFor(`${f.job} running`, async () => (await dep.history(f.job)).find((r) => r.status === 'running'), 10_000, 200);
  if (run.host !== f.host) throw new Error(`${f.job} runs on ${run.host}, not ${f.host}`);
  return run;
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const counts = (argValue(ctx.args, 'busy-ticks') ?? '15,25,55').split(',').map(Number);
  if (counts.length !== FILLERS.length + 1) throw new Error(`--busy-ticks takes ${FILLERS.length + 1} counts, one per phase`);
  const dir = join(ctx.tmp, 'cluster');
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  const tab = join(dir, 'crontab');
  writeFileSync(tab, crontab(out));
  const load = loadavg()[0].toFixed(1);
  const etcd = await EtcdCluster.start(1);
  const phases: Phase[] = [];
  let ticks: TickResult[];
  let fillers: RunRecord[];
  try {
    const dep = await Deployment.cluster(dir, tab, etcd, ['--slots', '1']);
    try {
      await dep.waitListed(FILLERS[FILLERS.length - 1].job);
      // Placement ranks the live nodes each daemon knows: all three, each with its one slot, before anything counts.
      await waitFor('every daemon to see three nodes with --slots 1', async () => {
        const views = await Promise.all(dep.daemons.map((d) => d.call<NodeView[]>('nodes')));
        return views.every((v) => v.length === 3 && v.every((n) => n.healthy && n.slots?.total === 1));
      }, 20_000, 200);
      if ((await waitAllStarted(out, 1)) < 1) throw new Error('the probe did not run within 30 s');
      const full = new Set<string>();
      for (let k = 0; k < counts.length; k++) {
        if (k > 0) {
          const f = FILLERS[k - 1];
          await fill(dep, f);
          full.add(f.host);
        }
        const fromMs = nextSecond(1500);
        phases.push({ full: new Set(full), fromMs, toMs: fromMs + counts[k] * 1000 });
        ctx.log(`phase k=${k} (full: ${[...full].join(',') || 'none'}): ${new Date(fromMs).toISOString()} +${counts[k]} ticks`);
        await sleep(fromMs + counts[k] * 1000 - Date.now());
      }
      const last = phases[phases.length - 1];
      await sleep(1500);
      for (const p of phases) await settleLedger(out, 1, p.fromMs, p.toMs);
      // Read while the fillers still run: each must have held its host's slot from before its first phase to the end.
      fillers = (await Promise.all(FILLERS.map((f) => dep.history(f.job)))).flat();
      ticks = analyse(out, phases, await dep.history(PROBE));
      for (const f of FILLERS) await dep.daemons[0].call('kill', { job: f.job });
      ctx.log(`window ends ${new Date(last.toMs).toISOString()}; fillers killed`);
    } finally {
      await dep.stop();
    }
  } finally {
    await etcd.stop();
  }

  const fillerIssues = FILLERS.flatMap((f, i) => {
    const runs = fillers.filter((r) => r.job === f.job);
    const firstPhase = phases[i + 1];
    const ok = runs.length === 1 && runs[0].host === f.host && runs[0].status === 'running' && runs[0].startedMs < firstPhase.fromMs;
    return ok ? [] : [`${f.job}: ${JSON.stringify(runs.map((r) => ({ host: r.host, status: r.status, startedMs: r.startedMs })))}`];
  });
  if (fillerIssues.length) ctx.log(`fillers did not hold their hosts throughout: ${fillerIssues.join('; ')}`);
  const c = checks(ticks, phases);
  const clean = c.duplicates + c.missing + c.onFullHost + c.recordDuplicates + c.recordMissing + c.notOk === 0 && fillerIssues.length === 0;

  const latencies = (sel: (t: TickResult) => boolean) => ticks.filter(sel).flatMap((t) => t.starts.map((s) => s.latencyMs));
  const floor = quantiles(latencies((t) => t.phase === 0));
  ctx.log(`load ${load}; floor (k=0, no host full): ${q3(floor)}`);
  ctx.log(c.text);
  // The slow ticks (over their target p99 by more than 10 ms), to tell a late claim from a late spawn.
  for (const t of ticks.filter((x) => x.starts.some((st) => st.latencyMs > x.expectedDelayMs + floor.p99 + 10))) {
    const rec = t.records.map((r) => `${r.host} startedMs ${r.startedMs - t.tickMs} ms`).join(', ');
    ctx.log(`slow: tick ${new Date(t.tickMs).toISOString()} (k=${t.phase}, order ${placementOrder(PROBE, t.tickMs, NODES).join('>')}, ${t.fullBefore} full before): ${t.starts.map((st) => `${st.host} ${st.latencyMs.toFixed(1)} ms`).join(', ')}; record ${rec}`);
  }
  const setup = `three bin/dcron daemons --slots 1 on one loopback etcd; probe '* * * * * *' appends $EPOCHREALTIME, DCRON_TICK_MS, DCRON_HOST as its first instruction; hosts made full by a 'sleep' filler pinned with hosts=NODE, started by 'run' and holding the slot for the whole phase (checked from its run record); ${counts.join('/')} ticks with k=0/1/2 hosts full (1-min load average ${load})`;
  const results: BenchResult[] = [
    { name: 'busy-transfer.floor.p50', figure: round(floor.p50), unit: 'ms', how: `${setup}: phase k=0, no host full, the preferred host claims ahead of the tick (claim lead): first instruction minus the tick, ${floor.n} ticks; the floor of every target` },
    { name: 'busy-transfer.floor.p99', figure: round(floor.p99), unit: 'ms', how: `as above (max ${floor.max.toFixed(1)} ms of ${floor.n})` },
  ];
  const maxBefore = Math.max(...ticks.map((t) => t.fullBefore));
  for (let before = 0; before <= maxBefore; before++) {
    const sel = (t: TickResult) => t.phase > 0 && t.fullBefore === before;
    const q = quantiles(latencies(sel));
    if (q.n === 0) continue;
    // Record startedMs is written when the claim has landed (before the spawn): claim = startedMs - tick - the handicap waited.
    const claim = quantiles(ticks.filter(sel).flatMap((t) => t.records.map((r) => r.startedMs - t.tickMs - t.expectedDelayMs)));
    const spawn = quantiles(ticks.filter(sel).flatMap((t) => t.records.flatMap((r) => t.starts.filter((s) => s.host === r.host).map((s) => s.latencyMs + t.tickMs - r.startedMs))));
    const handicap = before * HANDICAP_MS;
    ctx.log(`${before} full host(s) ranked before the free one: ${q3(q)}; target p50 ${(handicap + floor.p50).toFixed(1)} p99 ${(handicap + floor.p99).toFixed(1)}${before ? `; record startedMs - tick - ${handicap} ms: ${q3(claim)}; startedMs -> first instruction: ${q3(spawn)}` : ''}`);
    const how = `${setup}: probe ticks of phases k=1,2 whose rendezvous order (placementOrder) ranks ${before} full host(s) before the first free one, whose claimDelay is ${before} x ${HANDICAP_MS} ms; first instruction minus the tick, ${q.n} ticks`;
    // With no full host before it, the free host claimed ahead of the tick and startedMs is the tick itself: nothing to split.
    const split = before === 0 ? '' : `; of it, record startedMs - tick - ${handicap} ms (the claim after its handicap) p50 ${claim.p50.toFixed(1)} max ${claim.max.toFixed(1)} ms, startedMs -> first instruction p50 ${spawn.p50.toFixed(1)} max ${spawn.max.toFixed(1)} ms`;
    results.push(
      { name: `busy-transfer.full-before-${before}.p50`, figure: round(q.p50), unit: 'ms', target: round(handicap + floor.p50), floor: round(floor.p50), ratio: before ? round((q.p50 - floor.p50) / handicap) : undefined, pass: q.p50 <= handicap + floor.p50, how: `${how}; target ${before} x ${HANDICAP_MS} ms + floor p50; ratio: (p50 - floor p50) / (${before} x handicap)${split}` },
      { name: `busy-transfer.full-before-${before}.p99`, figure: round(q.p99), unit: 'ms', target: round(handicap + floor.p99), floor: round(floor.p99), pass: q.p99 <= handicap + floor.p99, how: `as above, p99 of ${q.n} (max ${q.max.toFixed(1)} ms); target ${before} x ${HANDICAP_MS} ms + floor p99` },
    );
  }
  results.push(
    { name: 'busy-transfer.duplicates', figure: c.duplicates, unit: 'runs', target: 0, pass: c.duplicates + c.recordDuplicates === 0, how: `probe starts beyond one per tick, over all ${ticks.length} ticks: ${c.text}` },
    { name: 'busy-transfer.missing', figure: c.missing, unit: 'runs', target: 0, pass: c.missing + c.recordMissing + c.notOk === 0, how: `probe ticks with no start: ${c.text}` },
    { name: 'busy-transfer.on-full-host', figure: c.onFullHost, unit: 'runs', target: 0, pass: c.onFullHost === 0 && fillerIssues.length === 0, how: `probe starts and records on a host whose slot the filler held${fillerIssues.length ? `; fillers not holding throughout: ${fillerIssues.join('; ')}` : '; each filler ran once, on its host, from before its first phase to the end'}` },
  );
  if (!clean) ctx.log('NOT every tick ran exactly once on a host with a free slot');
  return results;
}
