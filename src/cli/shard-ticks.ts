/**
 * `dcron history` shows a sharded job's tick as one row: N shard runs of one
 * tick are one thing to the reader ("did last night's backup finish?"), and
 * N rows per tick would push everything else off the screen.
 */
import type { RunRecord, RunStatus } from '../daemon/runlog/types.js';

/** One row of the grouped history: a run of an unsharded job, or every shard run of one tick. */
export type HistoryRow = { kind: 'run'; run: RunRecord } | { kind: 'tick'; tick: ShardTick };

export interface ShardTick {
  job: string;
  tickMs: number;
  /** The tick's shard count. */
  shards: number;
  /** Every record of the tick's shards (retries included), newest first. */
  runs: RunRecord[];
  /** Each shard's newest record: what became of that shard. */
  latest: RunRecord[];
}

/** What a tick came to: `partial` when shards are missing from the records and none failed or runs. */
export type TickStatus = RunStatus | 'partial';

const FAILED: ReadonlySet<RunStatus> = new Set(['failed', 'timeout', 'killed', 'lost']);
/** The order counts are listed in: what went wrong right after what went right. */
const COUNT_ORDER: readonly RunStatus[] = ['ok', 'failed', 'timeout', 'killed', 'lost', 'running', 'skipped', 'missed', 'paused'];

/**
 * Groups newest-first runs into rows, in the same order: a tick's row sits
 * where its newest record is, and unsharded runs stay one row each.
 */
export function groupShardRuns(runs: readonly RunRecord[]): HistoryRow[] {
  const rows: HistoryRow[] = [];
  const ticks = new Map<string, ShardTick>();
  for (const run of runs) {
    if (run.shard === null) {
      rows.push({ kind: 'run', run });
      continue;
    }
    const key = `${run.job}\n${run.tickMs}`;
    let tick = ticks.get(key);
    if (!tick) {
      tick = { job: run.job, tickMs: run.tickMs, shards: 0, runs: [], latest: [] };
      ticks.set(key, tick);
      rows.push({ kind: 'tick', tick });
    }
    tick.runs.push(run);
    // A reload may change the count between ticks, never within one; the largest seen is safe either way.
    tick.shards = Math.max(tick.shards, run.shards ?? run.shard + 1);
    // Newest first, so the first record of a shard is its latest attempt.
    if (!tick.latest.some((r) => r.shard === run.shard)) tick.latest.push(run);
  }
  for (const tick of ticks.values()) tick.latest.sort((a, b) => a.shard! - b.shard!);
  return rows;
}

/** Running while any shard runs; failed if any failed, timed out, was killed or lost; ok when all are ok. */
export function tickStatus(tick: ShardTick): TickStatus {
  const statuses = tick.latest.map((r) => r.status);
  if (statuses.includes('running')) return 'running';
  if (statuses.some((s) => FAILED.has(s))) return 'failed';
  if (tick.latest.length === tick.shards && statuses.every((s) => s === statuses[0])) return statuses[0];
  return 'partial';
}

/** `4/4 ok` when every shard ended alike, else `3 ok, 1 failed of 4`. */
export function shardCounts(tick: ShardTick): string {
  const counts = new Map<RunStatus, number>();
  for (const r of tick.latest) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  if (counts.size === 1 && tick.latest.length === tick.shards) return `${tick.shards}/${tick.shards} ${tick.latest[0].status}`;
  const parts = COUNT_ORDER.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`);
  return `${parts.join(', ')} of ${tick.shards}`;
}

/** The one host that ran every shard, or how many did. */
export function tickHosts(tick: ShardTick): string {
  const hosts = new Set(tick.latest.map((r) => r.host));
  return hosts.size === 1 ? [...hosts][0] : `${hosts.size} hosts`;
}
