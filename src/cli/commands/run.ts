import type { RunStartView } from '../../daemon/control/api-types.js';
import { withDaemon, type DataDirOptions } from '../context.js';
import { UserError } from '../errors.js';
import { printLogs } from '../log-printer.js';

export async function runCommand(job: string, opts: DataDirOptions & { follow?: boolean }): Promise<void> {
  await withDaemon(opts, async (c) => {
    const started = await c.call('run', { job });
    if (started.outcome === 'skipped') throw new UserError(`${job} did not start: ${started.message}`);
    if (started.outcome === 'queued') {
      process.stdout.write(`${job}: ${started.message}\n`);
      return;
    }
    if (!opts.follow) {
      process.stdout.write(`started run ${started.runId} of ${job}  (follow it: dcron logs ${job} -f --run ${started.runId})\n`);
      return;
    }
    const ended = await printLogs(c, { job, runId: started.runId!, follow: true });
    if (ended && ended.status !== 'ok') process.exitCode = ended.exitCode && ended.exitCode > 0 ? ended.exitCode : 1;
  });
}
