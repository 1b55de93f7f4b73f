import { withDaemon, type DataDirOptions } from '../context.js';
import { printLogs } from '../log-printer.js';

export async function logsCommand(job: string, opts: DataDirOptions & { follow?: boolean; run?: string }): Promise<void> {
  await withDaemon(opts, (c) => printLogs(c, { job, runId: opts.run, follow: opts.follow === true }));
}
