import type { RunRecord } from '../../daemon/runlog/types.js';
import { withDaemon, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { humanDuration, localTime, table } from '../format.js';

export async function historyCommand(job: string | undefined, opts: DataDirOptions & { limit: string; json?: boolean }): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got '${opts.limit}'`);
  const runs = await withDaemon(opts, (c) => c.call('history', { job, limit }));
  if (opts.json) {
    process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
    return;
  }
  if (runs.length === 0) {
    process.stdout.write(job ? `no runs of ${job} yet\n` : 'no runs yet\n');
    return;
  }
  const rows = runs.map((r) => [
    r.id,
    r.job,
    localTime(r.tickMs),
    r.trigger + (r.attempt > 1 ? ` #${r.attempt}` : ''),
    r.status,
    r.endedMs === null ? `running ${humanDuration(Date.now() - r.startedMs)}` : humanDuration(r.endedMs - r.startedMs),
    r.exitCode !== null ? String(r.exitCode) : (r.signal ?? '-'),
    r.host,
  ]);
  process.stdout.write(table(['RUN', 'JOB', 'TICK', 'TRIGGER', 'STATUS', 'DURATION', 'EXIT', 'HOST'], rows) + '\n');
}
