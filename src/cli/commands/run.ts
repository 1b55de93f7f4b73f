import type { RunStartView } from '../../daemon/control/api-types.js';
import { withDaemon, type DataDirOptions } from '../context.js';
import { UserError } from '../errors.js';
import { localTime } from '../format.js';
import { parseInstant } from '../instant.js';
import { printLogs } from '../log-printer.js';

export async function runCommand(job: string, opts: DataDirOptions & { follow?: boolean; tick?: string }): Promise<void> {
  const tickMs = opts.tick === undefined ? undefined : parseInstant('--tick', opts.tick);
  await withDaemon(opts, async (c) => {
    let started: RunStartView;
    if (tickMs !== undefined) {
      const tick = await c.call('backfillTick', { job, tickMs });
      if (tick.outcome === 'refused') throw new UserError(`${job}: tick ${localTime(tickMs)} not run: ${tick.message}`);
      started = { outcome: tick.outcome === 'queued' ? 'queued' : 'started', runId: tick.runIds[0] ?? null, message: tick.outcome === 'queued' ? 'queued behind the running run (overlap=queue)' : null };
    } else {
      started = await c.call('run', { job });
    }
    if (started.outcome === 'skipped') throw new UserError(`${job} did not start: ${started.message}`);
    if (started.outcome === 'queued') {
      process.stdout.write(`${job}: ${started.message}\n`);
      return;
    }
    if (!opts.follow) {
      const what = tickMs === undefined ? '' : ` for tick ${localTime(tickMs)} (backfill)`;
      process.stdout.write(`started run ${started.runId} of ${job}${what}  (follow it: dcron logs ${job} -f --run ${started.runId})\n`);
      return;
    }
    const ended = await printLogs(c, { job, runId: started.runId!, follow: true });
    if (ended && ended.status !== 'ok') process.exitCode = ended.exitCode && ended.exitCode > 0 ? ended.exitCode : 1;
  });
}
