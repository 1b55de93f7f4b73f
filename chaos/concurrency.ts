/**
 * Slots and groups, judged from the jobs' own ledger: at no moment may a
 * host have more of its `--slots` in use than it has (the sum of `slots=`
 * over its runs alive at once), nor a group more runs alive cluster-wide
 * than its `--group NAME=K`.
 *
 * A run is alive from its start line to its end line (its work done). A run
 * killed before its end line is alive until its gone line, which its watcher
 * writes once the run's last process is gone (workload.ts): never earlier
 * than it died, which would hide a run over the limit, and not much later.
 * A run with neither counts as alive until the ledger was read.
 *
 * Times are compared across hosts for groups, so each line's clock reading
 * is put back by its host's known offset (the skew scenario's libfaketime
 * reaches the jobs' `date`). A run is alive over [start, end): one ending in
 * the millisecond another starts does not overlap it, and a run whose end
 * line shares its start's millisecond takes no time at all.
 */
import type { LedgerEntry } from './ledger.js';
import type { WorkloadJob } from './workload.js';

/** One run's life, on the harness's clock (the host's readings less its offset). */
export interface RunSpan extends Pick<LedgerEntry, 'job' | 'tickMs' | 'host' | 'fence' | 'attempt' | 'trigger'> {
  shard: number | null;
  startMs: number;
  endMs: number;
  /** Where the end came from: the end line, the gone line (killed before its end), or neither (alive until the ledger was read). */
  endFrom: 'end' | 'gone' | 'unknown';
}

export interface ConcurrencyInput {
  jobs: readonly WorkloadJob[];
  ledger: readonly LedgerEntry[];
  /** Every host's `--slots`; absent or 0: no limit, and no slot check. */
  slotsPerHost?: number;
  /** The daemons' `--group NAME=K`. */
  groups?: Readonly<Record<string, number>>;
  /** Hosts whose clock is off by this much (ms, + ahead). */
  clockOffsetsMs?: Readonly<Record<string, number>>;
  /** When the ledger was read (harness clock): a run with no end and no gone line is alive until then. */
  untilMs: number;
}

/** A stretch of time with a host over its slots or a group over its limit. */
export interface OverLimit {
  kind: 'slots' | 'group';
  /** The host (slots) or the group. */
  scope: string;
  limit: number;
  /** When the stretch began: the start that took it over the limit. */
  atMs: number;
  /** The most in use during the stretch. */
  peak: number;
  /** The runs alive when it began; the last is the one whose start took it over. */
  alive: RunSpan[];
}

export interface Peak {
  inUse: number;
  atMs: number | null;
}

export interface ConcurrencyReport {
  runs: number;
  /** Runs killed before their end line, ended by their gone line. */
  endedByGone: number;
  /** Runs with neither line, counted alive until the ledger was read. */
  endUnknown: number;
  /** The most slots in use at once on each host (where runs were seen). */
  maxSlots: Record<string, Peak>;
  /** The most runs of each group alive at once, cluster-wide. */
  maxGroup: Record<string, Peak>;
  over: OverLimit[];
}

/** The run (one attempt) a ledger line belongs to. */
export const runIdOf = (e: LedgerEntry): string => `${e.job} ${e.tickMs} ${e.shard ?? '-'} ${e.host} ${e.fence} ${e.attempt}`;

/** Pairs each run's start line with its end or gone line. Lines without a clock reading (the 7-field form) are left out. */
export function runSpans(ledger: readonly LedgerEntry[], untilMs: number, clockOffsetsMs: Readonly<Record<string, number>> = {}): RunSpan[] {
  const idOf = runIdOf;
  const real = (e: LedgerEntry) => e.atMs! - (clockOffsetsMs[e.host] ?? 0);
  const ends = new Map<string, number>();
  const gones = new Map<string, number>();
  for (const e of ledger) {
    if (e.atMs == null) continue;
    // A run writes one end line and its watcher one gone line; the first of each counts.
    if (e.kind === 'end' && !ends.has(idOf(e))) ends.set(idOf(e), real(e));
    if (e.kind === 'gone' && !gones.has(idOf(e))) gones.set(idOf(e), real(e));
  }
  const spans: RunSpan[] = [];
  const seen = new Set<string>();
  for (const e of ledger) {
    if (e.kind !== 'start' || e.atMs == null || seen.has(idOf(e))) continue;
    seen.add(idOf(e));
    const end = ends.get(idOf(e));
    const gone = gones.get(idOf(e));
    const [endMs, endFrom] = end !== undefined ? [end, 'end' as const] : gone !== undefined ? [gone, 'gone' as const] : [untilMs, 'unknown' as const];
    spans.push({ job: e.job, tickMs: e.tickMs, host: e.host, fence: e.fence, attempt: e.attempt, trigger: e.trigger, shard: e.shard ?? null, startMs: real(e), endMs, endFrom });
  }
  return spans;
}

/**
 * Sweeps weighted spans in time order, ends before starts in the same
 * millisecond: the most in use at once, and each stretch above `limit`.
 */
export function sweep(spans: readonly RunSpan[], weight: (s: RunSpan) => number, limit: number): { peak: Peak; over: Array<{ atMs: number; peak: number; alive: RunSpan[] }> } {
  const events: Array<{ atMs: number; delta: number; span: RunSpan }> = [];
  for (const s of spans) {
    if (s.endMs <= s.startMs) continue;
    events.push({ atMs: s.startMs, delta: weight(s), span: s }, { atMs: s.endMs, delta: -weight(s), span: s });
  }
  events.sort((a, b) => a.atMs - b.atMs || a.delta - b.delta);
  const alive = new Set<RunSpan>();
  const peak: Peak = { inUse: 0, atMs: null };
  const over: Array<{ atMs: number; peak: number; alive: RunSpan[] }> = [];
  let inUse = 0;
  let stretch: { atMs: number; peak: number; alive: RunSpan[] } | null = null;
  for (const e of events) {
    inUse += e.delta;
    if (e.delta > 0) alive.add(e.span);
    else alive.delete(e.span);
    if (inUse > peak.inUse) Object.assign(peak, { inUse, atMs: e.atMs });
    if (inUse > limit) {
      if (!stretch) over.push((stretch = { atMs: e.atMs, peak: inUse, alive: [...alive] }));
      stretch.peak = Math.max(stretch.peak, inUse);
    } else {
      stretch = null;
    }
  }
  return { peak, over };
}

export function checkConcurrency(input: ConcurrencyInput): ConcurrencyReport {
  const byName = new Map(input.jobs.map((j) => [j.name, j]));
  const spans = runSpans(input.ledger, input.untilMs, input.clockOffsetsMs);
  const report: ConcurrencyReport = {
    runs: spans.length,
    endedByGone: spans.filter((s) => s.endFrom === 'gone').length,
    endUnknown: spans.filter((s) => s.endFrom === 'unknown').length,
    maxSlots: {},
    maxGroup: {},
    over: [],
  };
  const slots = input.slotsPerHost ?? 0;
  if (slots > 0) {
    const hosts = [...new Set(spans.map((s) => s.host))].sort();
    for (const host of hosts) {
      const { peak, over } = sweep(spans.filter((s) => s.host === host), (s) => byName.get(s.job)?.slots ?? 1, slots);
      report.maxSlots[host] = peak;
      report.over.push(...over.map((o) => ({ kind: 'slots' as const, scope: host, limit: slots, ...o })));
    }
  }
  for (const [group, limit] of Object.entries(input.groups ?? {})) {
    const { peak, over } = sweep(spans.filter((s) => byName.get(s.job)?.group === group), () => 1, limit);
    report.maxGroup[group] = peak;
    report.over.push(...over.map((o) => ({ kind: 'group' as const, scope: group, limit, ...o })));
  }
  return report;
}

/** One line per run alive, for a violation's detail. */
export function describeSpan(s: RunSpan, slots?: number): string {
  const end = s.endFrom === 'end' ? `${s.endMs}` : s.endFrom === 'gone' ? `${s.endMs} (gone, killed before its end line)` : 'unknown (alive until the ledger was read)';
  return `${s.job}@${s.tickMs}${s.shard !== null ? `/${s.shard}` : ''} on ${s.host} fence ${s.fence} (${s.trigger}${slots !== undefined ? `, ${slots} slot${slots === 1 ? '' : 's'}` : ''}) ${s.startMs}..${end}`;
}
