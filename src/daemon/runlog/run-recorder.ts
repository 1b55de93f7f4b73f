import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { RunLog } from './run-log.js';
import { newRunId } from './run-id.js';
import type { RunRecord, Trigger, UnstartedStatus } from './types.js';
import type { ShardRef } from '../crontab/types.js';

/** A tick that will not start a process here, and the fence it claimed (null: it claimed none). */
export interface UnstartedTick {
  job: string;
  tickMs: number;
  trigger: Trigger;
  fence: number | null;
  /** The shard, for a sharded job's tick. */
  shard?: ShardRef | null;
}

export interface RunRecorderEvents {
  /** A tick was recorded without a run: skipped, missed, lost or paused. */
  'run-recorded': [RunRecord];
}

export interface RunRecorderOptions {
  runLog: RunLog;
  /** This node's id, written as the record's host. */
  host: string;
  log: Logger;
  now: () => number;
}

/**
 * Every record of a tick that did not run goes through here: the tick
 * pipeline's missed, unclaimed and lost ticks, the executor's overlap skips,
 * failover reruns that lost their race. One place, so each such record is
 * logged, stored and announced (metrics, the cluster's run summaries, the
 * TUI) the same way.
 */
export class RunRecorder extends EventEmitter<RunRecorderEvents> {
  constructor(private readonly opts: RunRecorderOptions) {
    super();
  }

  /** overlap=skip (here or elsewhere in the cluster), or a daemon that is shutting down. */
  skipped(tick: UnstartedTick, message: string): RunRecord {
    return this.record(tick, 'skipped', message);
  }

  /** Claimed (or maybe claimed) by this node, but it will not run. */
  lost(tick: UnstartedTick, message: string): RunRecord {
    return this.record(tick, 'lost', message);
  }

  /** Passed while no daemon could run it, outside its catchup window. */
  missed(job: string, tickMs: number, message: string, shard: ShardRef | null = null, trigger: Trigger = 'schedule'): RunRecord {
    return this.record({ job, tickMs, trigger, fence: null, shard }, 'missed', message);
  }

  /** Its job was paused by an operator (`dcron pause`) at the tick: claimed, so recorded once, and not run. */
  paused(tick: UnstartedTick, message: string): RunRecord {
    return this.record(tick, 'paused', message);
  }

  private record(tick: UnstartedTick, status: UnstartedStatus, message: string): RunRecord {
    const { runLog, host, log, now } = this.opts;
    const id = newRunId(now());
    const shard = tick.shard ?? null;
    runLog.recordUnstarted({ id, job: tick.job, tickMs: tick.tickMs, trigger: tick.trigger, attempt: 1, fence: tick.fence, host, status, atMs: now(), message, shard: shard?.index ?? null, shards: shard?.count ?? null });
    const record = runLog.getRun(id)!;
    log.info(`tick ${status}`, { job: tick.job, tick: tick.tickMs, run: id, ...(shard ? { shard: shard.index } : {}), reason: message });
    this.emit('run-recorded', record);
    return record;
  }
}
