import { withDaemon, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { printLogs } from '../log-printer.js';

export async function logsCommand(job: string, opts: DataDirOptions & { follow?: boolean; run?: string; shard?: string }): Promise<void> {
  const shard = opts.shard === undefined ? undefined : shardIndex(opts.shard);
  if (shard !== undefined && opts.run !== undefined) throw new UsageError('--shard and --run both pick a run: give one of them');
  await withDaemon(opts, (c) => printLogs(c, { job, runId: opts.run, follow: opts.follow === true, shard }));
}

/** Shards are numbered like DCRON_SHARD: 0 to shards-1. */
function shardIndex(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new UsageError(`--shard must be a shard number from 0 (as in DCRON_SHARD), got '${text}'`);
  return Number(text);
}
