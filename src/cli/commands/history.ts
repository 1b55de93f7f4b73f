import type { ControlClient } from '../../daemon/control/client.js';
import type { RunRecord } from '../../daemon/runlog/types.js';
import { withDaemon, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { humanDuration, localTime, shardOf, table } from '../format.js';
import { groupShardRuns, shardCounts, tickHosts, tickStatus, type HistoryRow, type ShardTick } from '../shard-ticks.js';

export interface HistoryOptions extends DataDirOptions {
  limit: string;
  json?: boolean;
  /** One row per shard run instead of one per sharded tick. */
  shards?: boolean;
}

/** The daemon answers at most this many runs per call (control/local-queries.ts historyLimit). */
const MAX_RUNS = 10_000;

export async function historyCommand(job: string | undefined, opts: HistoryOptions): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got '${opts.limit}'`);
  const grouped = !opts.json && !opts.shards;
  const runs = await withDaemon(opts, (c) => (grouped ? runsForTicks(c, job, limit) : c.call('history', { job, limit })));
  if (opts.json) {
    process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
    return;
  }
  if (runs.length === 0) {
    process.stdout.write(job ? `no runs of ${job} yet\n` : 'no runs yet\n');
    return;
  }
  process.stdout.write((grouped ? tickTable(groupShardRuns(runs).slice(0, limit), job) : shardTable(runs)) + '\n');
}

/**
 * Enough runs for `limit` rows when sharded ticks fold into one: the first
 * page is what an unsharded history asks for; a sharded run in it means up
 * to `shards` records per row (twice that, for retries).
 */
async function runsForTicks(c: ControlClient, job: string | undefined, limit: number): Promise<RunRecord[]> {
  const first = await c.call('history', { job, limit });
  const widest = Math.max(1, ...first.map((r) => r.shards ?? 1));
  if (widest === 1 || first.length < limit) return first;
  return c.call('history', { job, limit: Math.min(MAX_RUNS, limit * widest * 2) });
}

const HEADER = ['RUN', 'JOB', 'TICK', 'TRIGGER', 'STATUS', 'DURATION', 'EXIT', 'HOST'];

const triggerOf = (r: RunRecord): string => r.trigger + (r.attempt > 1 ? ` #${r.attempt}` : '');
const exitOf = (r: RunRecord): string => (r.exitCode !== null ? String(r.exitCode) : (r.signal ?? '-'));
const durationOf = (startedMs: number, endedMs: number | null): string =>
  endedMs === null ? `running ${humanDuration(Date.now() - startedMs)}` : humanDuration(endedMs - startedMs);

const runCells = (r: RunRecord): string[] => [r.id, r.job, localTime(r.tickMs), triggerOf(r), r.status, durationOf(r.startedMs, r.endedMs), exitOf(r), r.host];

/** Unsharded runs as they always printed; a SHARDS column only when a sharded tick is among them. */
function tickTable(rows: HistoryRow[], job: string | undefined): string {
  const withShards = rows.some((row) => row.kind === 'tick');
  const cells = rows.map((row) => {
    if (row.kind === 'run') return withShards ? [...runCells(row.run).slice(0, 7), '-', row.run.host] : runCells(row.run);
    return tickCells(row.tick);
  });
  const header = withShards ? [...HEADER.slice(0, 7), 'SHARDS', 'HOST'] : HEADER;
  return table(header, cells) + (withShards ? `\n\n(dcron history ${job ?? 'JOB'} --shards lists each shard's run and host)` : '');
}

function tickCells(tick: ShardTick): string[] {
  const status = tickStatus(tick);
  const startedMs = Math.min(...tick.runs.map((r) => r.startedMs));
  const endedMs = status === 'running' ? null : Math.max(...tick.runs.map((r) => r.endedMs ?? r.startedMs));
  const triggers = [...new Set(tick.latest.map((r) => r.trigger))].join(',');
  const retries = tick.runs.filter((r) => r.attempt > 1).length;
  return [
    '-',
    tick.job,
    localTime(tick.tickMs),
    triggers + (retries > 0 ? ` +${retries} retr${retries === 1 ? 'y' : 'ies'}` : ''),
    status,
    durationOf(startedMs, endedMs),
    '-',
    shardCounts(tick),
    tickHosts(tick),
  ];
}

function shardTable(runs: RunRecord[]): string {
  const rows = runs.map((r) => {
    const cells = runCells(r);
    return [...cells.slice(0, 3), shardOf(r) ?? '-', ...cells.slice(3)];
  });
  return table([...HEADER.slice(0, 3), 'SHARD', ...HEADER.slice(3)], rows);
}
