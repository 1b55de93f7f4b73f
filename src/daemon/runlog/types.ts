/**
 * The records the run log keeps: one row per run (or per tick that never
 * started) and the output chunks of each run, in arrival order.
 */

export type RunStatus = 'running' | 'ok' | 'failed' | 'timeout' | 'killed' | 'skipped' | 'missed' | 'lost' | 'paused';

/** How a started run can end. */
export type FinishStatus = 'ok' | 'failed' | 'timeout' | 'killed' | 'lost';

/** A tick recorded without a process: skipped by overlap, missed, claimed but not started (lost), or its job paused by an operator. */
export type UnstartedStatus = 'skipped' | 'missed' | 'lost' | 'paused';

/** A record of a process that ran (or runs): not a tick recorded without one. Lost records may have run. */
export const hasStarted = (r: Pick<RunRecord, 'status'>): boolean => r.status !== 'skipped' && r.status !== 'missed' && r.status !== 'paused';

export type Trigger = 'schedule' | 'catchup' | 'manual' | 'retry' | 'failover' | 'dependency' | 'backfill';

export interface RunRecord {
  id: string;
  job: string;
  /** The scheduled instant this run belongs to (Unix ms). */
  tickMs: number;
  trigger: Trigger;
  /** 1 for the first attempt, 2.. for retries. */
  attempt: number;
  /** Fencing token the coordinator handed out; null for runs that never claimed one. */
  fence: number | null;
  host: string;
  status: RunStatus;
  startedMs: number;
  endedMs: number | null;
  exitCode: number | null;
  signal: string | null;
  pid: number | null;
  /** Output bytes stored for this run (after the caller's cap). */
  outputBytes: number;
  /** True when output went past `max-output` and the rest was dropped. */
  truncated: boolean;
  message: string | null;
  /** Shard index (0-based) of a sharded job's run; null when the job is not sharded. */
  shard: number | null;
  /** How many shards the job's tick had; null when the job is not sharded. */
  shards: number | null;
}

/** `system` carries dcron's own notes in the output, such as the truncation marker. */
export type OutputStream = 'stdout' | 'stderr' | 'system';

export interface OutputChunk {
  runId: string;
  /** 1, 2, ... per run, in arrival order; a follower resumes after the last seq it saw. */
  seq: number;
  stream: OutputStream;
  tsMs: number;
  data: Buffer;
}
