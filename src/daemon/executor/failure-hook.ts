import { dirname } from 'node:path';
import type { JobDefinition } from '../crontab/types.js';
import type { RunRecord } from '../runlog/types.js';
import type { Logger } from '../log.js';
import { startProcess } from './process-runner.js';

const HOOK_TIMEOUT_MS = 60_000;
const HOOK_OUTPUT_BYTES = 64 * 1024;

/**
 * Runs a job's `on-failure` command after its last attempt failed. The failed
 * run's details travel in the environment; the hook's own output goes to the
 * daemon log, since it is not a run of the job.
 */
export async function runFailureHook(job: JobDefinition, run: RunRecord, runEnv: Record<string, string>, log: Logger): Promise<void> {
  if (!job.options.onFailure) return;
  const chunks: Buffer[] = [];
  const env = {
    ...runEnv,
    DCRON_STATUS: run.status,
    DCRON_EXIT_CODE: run.exitCode === null ? '' : String(run.exitCode),
    DCRON_SIGNAL: run.signal ?? '',
    DCRON_MESSAGE: run.message ?? '',
  };
  const proc = startProcess({
    shell: job.shell,
    command: job.options.onFailure,
    stdin: null,
    cwd: job.options.cwd ?? dirname(job.source.file),
    env,
    timeoutMs: HOOK_TIMEOUT_MS,
    killGraceMs: 2000,
    maxOutputBytes: HOOK_OUTPUT_BYTES,
    onOutput: (c) => chunks.push(c.data),
  });
  const result = await proc.done;
  const fields = { job: job.name, run: run.id, exitCode: result.exitCode, output: Buffer.concat(chunks).toString('utf8').trim() };
  if (result.exitCode === 0) log.info('on-failure hook ran', fields);
  else log.warn('on-failure hook failed', { ...fields, signal: result.signal, error: result.spawnError });
}
