import { withDaemon, type DataDirOptions } from '../context.js';
import { UserError } from '../errors.js';

export async function killCommand(job: string, opts: DataDirOptions & { run?: string }): Promise<void> {
  const { killed } = await withDaemon(opts, (c) => c.call('kill', { job, runId: opts.run }));
  if (killed.length === 0) throw new UserError(opts.run ? `run ${opts.run} of ${job} is not running` : `${job} has no running run`);
  for (const id of killed) process.stdout.write(`killed run ${id} of ${job} (SIGTERM to its process group, SIGKILL after the grace period)\n`);
}
