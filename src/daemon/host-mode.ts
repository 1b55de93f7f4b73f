import type { Coordinator } from './coordination/coordinator.js';
import { EmbeddedCoordinator } from './coordination/embedded.js';
import { EmbeddedTickLedger } from './coordination/embedded-ledger.js';
import { EmbeddedPauses } from './jobs/embedded-pauses.js';
import type { BackfillClaims } from './coordination/backfill-claims.js';
import type { GroupSlots, PermitOutcome } from './coordination/group-slots.js';
import { EmbeddedGroupSlots } from './coordination/embedded-group-slots.js';
import { EmbeddedBackfillClaims } from './coordination/embedded-backfill-claims.js';
import type { JobPauses } from './jobs/job-pauses.js';
import type { SlotHold } from './ticks/host-capacity.js';
import type { TickLedger } from './ticks/tick-ledger.js';
import type { JobDefinition } from './crontab/types.js';
import type { Executor, RetryMove, TickRun } from './executor/executor.js';
import type { JobGuard } from './executor/job-guard.js';
import { FileJobSource } from './jobs/file-job-source.js';
import type { JobSource } from './jobs/job-source.js';
import type { Logger } from './log.js';
import type { Db } from './runlog/database.js';
import type { RunLog } from './runlog/run-log.js';
import type { RunRecorder } from './runlog/run-recorder.js';
import { SINGLE_HOST_PLACEMENT, type Placement } from './ticks/placement.js';
import type { HostFigures } from './ticks/host-figures.js';

/** What a host mode needs from the daemon once it is built, and what it answers for commands from peers. */
export interface LocalNode {
  nodeId: string;
  startedMs: number;
  executor: Executor;
  recorder: RunRecorder;
  runLog: RunLog;
  log: Logger;
  job(name: string): JobDefinition | undefined;
  /** Runs a job here now (a manual run routed to this node). */
  runHere(job: string): Promise<unknown>;
  /** A peer's run died with its host and nobody reruns it: its shard (or, mode=all, its host) of the tick ended, not ok. */
  lostElsewhere(job: string, tickMs: number, shard: number | null, shards: number | null, host: string): void;
  /** A permit of the job's concurrency group, taken now for a run outside the tick pipeline (a failover rerun). */
  groupPermit(job: JobDefinition, unit: string, tickMs: number): Promise<PermitOutcome>;
  /** Slots in use of this host's `--slots`, for its node record. */
  slots(): { used: number; total: number };
  /** This host's free memory, load and free disk (`requires=`), for its node record. */
  figures(): HostFigures;
  /** The job's `slots=` of this host's `--slots`, taken now for a run outside the tick pipeline (a failover rerun). */
  holdSlots(job: JobDefinition): SlotHold;
  /** The job's ticks go through the tick ledger (sharded, or followed by another job). */
  tracksTicks(job: JobDefinition): boolean;
}

/**
 * What differs between a daemon alone on its host and one node of a
 * cluster, in one object chosen at start: where jobs and cursors come from,
 * where ticks go first, and whether peers share the ticks. Everything else
 * in the daemon is the same code in both.
 */
export interface HostMode {
  readonly kind: 'single-host' | 'cluster';
  readonly coordinator: Coordinator;
  /** Where whole ticks of sharded and depended-on jobs end (ticks/tick-ledger.ts). */
  readonly ledger: TickLedger;
  /** Operators' pauses of jobs (jobs/job-pauses.ts): SQLite here, etcd in a cluster. The daemon starts and closes it. */
  readonly pauses: JobPauses;
  /** Create-once claims of past ticks run by `dcron backfill` (coordination/backfill-claims.ts). */
  readonly backfillClaims: BackfillClaims;
  /** Permits of concurrency groups (`group=`): in memory here, etcd keys under leases in a cluster. The daemon starts and closes it. */
  readonly groupSlots: GroupSlots;
  readonly jobSource: JobSource;
  readonly placement: Placement;
  /** Peers may hold this node's ticks (see TickPipelineOptions.sharesTicks). */
  readonly sharesTicks: boolean;
  /** `retry-elsewhere=true`: offers a retry to another host (cluster only; absent, retries run here). */
  readonly moveRetry?: (run: TickRun, attempt: number, triedOn: readonly string[]) => Promise<RetryMove>;
  /** A coordinator request failed: counted for metrics where the store is remote. */
  storeError(): void;
  /** Keeps the job guard's deadline on the lease's proof, so jobs die with a stalled node. */
  bindGuard(guard: JobGuard): void;
  /** Starts what needs the daemon's executor and run log (in a cluster: run publishing, commands, failover, the peer API). */
  attach(local: LocalNode): Promise<void>;
  /** After the daemon has drained: what attach() started, and the connection to the store. */
  close(): Promise<void>;
}

/** One host: the crontab file, cursors in the daemon's SQLite file, every tick claimed here at once. */
export function singleHostMode(db: Db, crontab: string, log: Logger, now: () => number, nodeId: string): HostMode {
  return {
    kind: 'single-host',
    coordinator: new EmbeddedCoordinator(db),
    ledger: new EmbeddedTickLedger(db),
    pauses: new EmbeddedPauses(db),
    backfillClaims: new EmbeddedBackfillClaims(db, nodeId, now),
    groupSlots: new EmbeddedGroupSlots(),
    jobSource: new FileJobSource(crontab, log, now),
    placement: SINGLE_HOST_PLACEMENT,
    sharesTicks: false,
    storeError: () => {},
    // Nothing can take this host's ticks while it stalls: the guard only acts when the daemon dies.
    bindGuard: () => {},
    attach: async () => {},
    close: async () => {},
  };
}
