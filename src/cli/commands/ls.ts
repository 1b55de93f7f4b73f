import { withDaemon, type DataDirOptions } from '../context.js';
import { isDependentView, relative, scheduleColumn, table } from '../format.js';

export async function lsCommand(opts: DataDirOptions & { json?: boolean }): Promise<void> {
  const jobs = await withDaemon(opts, (c) => c.call('ls'));
  if (opts.json) {
    process.stdout.write(JSON.stringify(jobs, null, 2) + '\n');
    return;
  }
  if (jobs.length === 0) {
    process.stdout.write('no jobs (is the crontab empty? see dcron status)\n');
    return;
  }
  const now = Date.now();
  const rows = jobs.map((j) => [
    j.name + (j.retained ? ' (!)' : ''),
    scheduleColumn(j),
    j.nextTickMs === null || isDependentView(j) ? '-' : relative(j.nextTickMs, now),
    j.lastRun ? `${j.lastRun.status} ${relative(j.lastRun.endedMs ?? j.lastRun.startedMs, now)}` : '-',
    j.running.length === 0 ? '-' : j.running.map((r) => `${r.host} (${r.runId})`).join(', '),
  ]);
  process.stdout.write(table(['NAME', 'SCHEDULE', 'NEXT', 'LAST', 'RUNNING'], rows) + '\n');
  if (jobs.some((j) => j.retained)) process.stdout.write('\n(!) line has an error now; the previous definition still runs (see dcron status)\n');
}
