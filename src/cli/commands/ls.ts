import type { JobView } from '../../daemon/control/api-types.js';
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
    nextColumn(j, now),
    j.lastRun ? `${j.lastRun.status} ${relative(j.lastRun.endedMs ?? j.lastRun.startedMs, now)}` : '-',
    j.running.length === 0 ? '-' : j.running.map((r) => `${r.host} (${r.runId})`).join(', '),
  ]);
  process.stdout.write(table(['NAME', 'SCHEDULE', 'NEXT', 'LAST', 'RUNNING'], rows) + '\n');
  if (jobs.some((j) => j.retained)) process.stdout.write('\n(!) line has an error now; the previous definition still runs (see dcron status)\n');
  if (jobs.some((j) => j.paused)) process.stdout.write('\npaused: its ticks are recorded paused, not run, until dcron resume (or the time shown)\n');
}

function nextColumn(j: JobView, now: number): string {
  if (j.paused) return j.paused.untilMs === null ? 'paused' : `paused until ${relative(j.paused.untilMs, now)}`;
  return j.nextTickMs === null || isDependentView(j) ? '-' : relative(j.nextTickMs, now);
}
