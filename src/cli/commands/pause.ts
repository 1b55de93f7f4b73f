import { withDaemon, type DataDirOptions } from '../context.js';
import { localTime } from '../format.js';
import { parseInstant } from '../instant.js';

export async function pauseCommand(job: string, opts: DataDirOptions & { until?: string }): Promise<void> {
  const untilMs = opts.until === undefined ? undefined : parseInstant('--until', opts.until);
  const { paused } = await withDaemon(opts, (c) => c.call('pause', { job, untilMs }));
  const until = paused.untilMs === null ? 'until `dcron resume ' + job + '`' : `until ${localTime(paused.untilMs)}`;
  process.stdout.write(`paused ${job} ${until}: its ticks are recorded paused and do not run (a run in flight goes on; dcron kill stops it)\n`);
}

export async function resumeCommand(job: string, opts: DataDirOptions): Promise<void> {
  const { resumed } = await withDaemon(opts, (c) => c.call('resume', { job }));
  process.stdout.write(resumed ? `resumed ${job}: its next tick runs\n` : `${job} was not paused\n`);
}
