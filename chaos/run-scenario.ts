/** Runs one scenario for a while and judges it. */
import { join } from 'node:path';
import { check, type CheckReport } from './checker.js';
import { Harness, LEASE_TTL_S, NODE_IDS } from './harness.js';
import { readLedger } from './ledger.js';
import type { Scenario, ScenarioContext } from './scenarios.js';
import { CORE_JOBS, CORE_SLOTS, GROUP_LIMITS } from './workload.js';

export interface ScenarioResult {
  scenario: string;
  what: string;
  seed: number;
  cycles: number;
  /** The daemons' `--slots` and `--group NAME=K`, which the checker held the runs to. */
  room: { slots: number; groups: Readonly<Record<string, number>> };
  /** Judged ticks ran from this instant to that. */
  fromMs: number;
  toMs: number;
  faults: number;
  report: CheckReport;
  /** Scenario checks that failed (a daemon died, a follower never caught up). */
  failures: string[];
  /** Where the ledger and daemon logs of a failed run were kept. */
  evidence?: string;
  /** What the scenario observed of its own faults (where its kills landed), for the report. */
  notes?: string[];
  /** The daemons' last warnings, when something failed. */
  warnings?: string;
  ok: boolean;
}

/** Ticks before the first fault settle in this long after all daemons are up. */
const WARMUP_MS = 3000;
/** After the last fault: a lease TTL and failover reruns, and then some ticks of normal running. */
const SETTLE_MS = (LEASE_TTL_S + 8) * 1000;
/** The last ticks judged are this far before the daemons stop, so each had time to start. */
const TAIL_MS = 3000;

export async function runScenario(scenario: Scenario, opts: { durationMs: number; seed?: number; log?: (line: string) => void; evidenceDir?: string; keepEvidence?: boolean }): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const h = await Harness.start(scenario.harness);
  const failures: string[] = [];
  const notes: string[] = [];
  const ctx: ScenarioContext = { h, cycle: 0, random: mulberry32(seed), fail: (m) => failures.push(m), note: (m) => notes.push(m), churn: [] };
  try {
    const fromMs = Date.now() + WARMUP_MS;
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const endMs = Date.now() + opts.durationMs;
    while (ctx.cycle === 0 || Date.now() < endMs) {
      await scenario.cycle(ctx);
      ctx.cycle++;
      log(`  ${scenario.name}: cycle ${ctx.cycle} done (${Math.round((endMs - Date.now()) / 1000)} s left)`);
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const toMs = Date.now() - TAIL_MS;
    await h.stopAll();
    const ledgerReadMs = await h.settleLedger();
    const room = { slots: scenario.harness.slots ?? CORE_SLOTS, groups: GROUP_LIMITS };
    const churnNames = ['edit-a', 'edit-b'];
    const records = h.records();
    const report = check({
      jobs: [...(scenario.harness.jobs ?? CORE_JOBS), ...churnNames.map((name) => ({ name, periodS: 1, runS: 0, overlap: 'skip' as const, mode: 'one' as const, failover: false }))],
      churnJobs: churnNames,
      fromMs,
      toMs,
      hosts: NODE_IDS,
      ledger: readLedger(h.files.ledger),
      records,
      faults: h.faults,
      clockOffsetsMs: Object.fromEntries(Object.entries(scenario.harness.clockOffsets ?? {}).map(([host, offset]) => [host, faketimeOffsetMs(offset!)])),
      slotsPerHost: room.slots,
      groups: room.groups,
      ledgerReadMs,
    });
    failures.push(...h.problems);
    const ok = report.ok && failures.length === 0;
    let evidence: string | undefined;
    if ((!ok || opts.keepEvidence) && opts.evidenceDir) {
      evidence = join(opts.evidenceDir, `${scenario.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      h.saveEvidence(evidence, records, [...failures, ...report.violations.map((v) => `${v.kind}: ${v.job} ${v.detail}`)]);
    }
    return {
      evidence, scenario: scenario.name, what: scenario.what, seed, room, cycles: ctx.cycle, fromMs, toMs, faults: h.faults.length, report, failures, notes: notes.length > 0 ? notes : undefined, warnings: ok ? undefined : h.daemonWarnings(), ok };
  } finally {
    await h.close();
  }
}

/** `+5s` / `-5s` (libfaketime's relative offsets, in seconds) as milliseconds. */
function faketimeOffsetMs(offset: string): number {
  const m = /^([+-]\d+(?:\.\d+)?)s?$/.exec(offset);
  if (!m) throw new RangeError(`unsupported FAKETIME offset '${offset}'`);
  return Number(m[1]) * 1000;
}

/** A small seeded generator, so a run's random choices can be replayed with --seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
