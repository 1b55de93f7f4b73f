import type { JobDefinition, ShardRef } from '../crontab/types.js';
import type { Trigger } from '../runlog/types.js';
import { formatTick } from '../schedule/format.js';

export interface RunIdentity {
  job: JobDefinition;
  tickMs: number;
  runId: string;
  host: string;
  fence: number;
  attempt: number;
  trigger: Trigger;
  shard?: ShardRef | null;
  /** A dependent job (after=): its tick is its parents', in every run of it (retries and failover reruns too). */
  dependency?: boolean;
}

/**
 * The environment of a run: the daemon's own, then the crontab's env lines
 * (so a file can override PATH as with cron), then dcron's variables, which
 * nothing may override.
 */
export function buildRunEnv(base: NodeJS.ProcessEnv, run: RunIdentity): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  Object.assign(env, run.job.env);
  env.SHELL = run.job.shell;
  env.DCRON_JOB = run.job.name;
  env.DCRON_TICK = formatTick(run.tickMs, run.job.tz);
  env.DCRON_TICK_MS = String(run.tickMs);
  env.DCRON_RUN_ID = run.runId;
  env.DCRON_HOST = run.host;
  env.DCRON_FENCE = String(run.fence);
  env.DCRON_ATTEMPT = String(run.attempt);
  env.DCRON_TRIGGER = run.trigger;
  if (run.shard) {
    env.DCRON_SHARD = String(run.shard.index);
    env.DCRON_SHARDS = String(run.shard.count);
  }
  if (run.dependency) env.DCRON_PARENT_TICK = formatTick(run.tickMs, run.job.tz);
  return env;
}
