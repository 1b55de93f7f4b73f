import type { JobDefinition } from '../crontab/types.js';
import type { LoadState } from '../jobs/job-source.js';
import type { OutputEvent, SubmitResult } from '../executor/executor.js';
import type { HistoryQuery } from '../runlog/run-log.js';
import type { OutputChunk, RunRecord } from '../runlog/types.js';
import type { RunSummary } from '../cluster/run-reporter.js';
import type { NodeState } from '../cluster/node-directory.js';
import type { JobRecord } from '../coordination/etcd/job-record.js';
import type { JobPauses } from '../jobs/job-pauses.js';
import type { OutputStreamHandle } from '../peer/peer-client.js';
import type { PeerLogEvent } from '../peer/peer-server.js';
import type { Backfiller } from '../ticks/backfiller.js';
import type { GroupView } from './api-types.js';
import type { HostFigures } from '../ticks/host-figures.js';

/**
 * What the control API needs of a daemon, and nothing more: the control
 * code can then be tested against a fake, and the daemon's insides can
 * change without the socket's answers changing with them.
 */
export interface DaemonPort {
  readonly nodeId: string;
  readonly dataDir: string;
  /** Null for a cluster node that follows the shared list without a file of its own. */
  readonly crontabPath: string | null;
  readonly startedMs: number;
  now(): number;
  readonly jobs: ReadonlyMap<string, JobDefinition>;
  readonly lastLoad: LoadState | null;
  nextTick(job: string): number | undefined;
  readonly runLog: RunLogReader;
  readonly executor: ExecutorPort;
  /** Ticks recorded without a run (skipped, missed, lost). */
  readonly recorder: RecorderPort;
  runNow(job: JobDefinition): Promise<SubmitResult>;
  /** Slots in use of this host's `--slots` (total 0: no limit). */
  slotUse(): { used: number; total: number };
  /** Concurrency groups this host knows of: its `--group` limits and the groups its jobs name. */
  groupUse(): GroupView[];
  /** This host's free memory, load and free disk (`requires=`). */
  hostFigures(): HostFigures;
  reload(reason: string): Promise<void>;
  /** Past ticks run here, once cluster-wide (ticks/backfiller.ts). */
  readonly backfill: Pick<Backfiller, 'plan' | 'runTick'>;
  /** Operators' pauses: SQLite on one host, etcd in a cluster, so any host's socket pauses a job everywhere. */
  readonly pauses: PausesPort;
  /** Null on a single host. */
  readonly cluster: ClusterPort | null;
  /** The job table changed (reload, the cluster's list). */
  on(event: 'jobs-changed', listener: () => void): unknown;
  on(event: 'next-tick', listener: (job: string, nextTickMs: number | null) => void): unknown;
  off(event: 'jobs-changed', listener: () => void): unknown;
  off(event: 'next-tick', listener: (job: string, nextTickMs: number | null) => void): unknown;
}

export type PausesPort = Pick<JobPauses, 'get' | 'all' | 'pause' | 'resume'>;

/** The reads of this host's run log that the control API answers from. */
export interface RunLogReader {
  getRun(idOrPrefix: string): RunRecord | undefined;
  history(query?: HistoryQuery): RunRecord[];
  lastRunsByJob(): ReadonlyMap<string, RunRecord>;
  runningRuns(): RunRecord[];
  readOutput(runId: string): OutputChunk[];
}

/** Run records: started, finished, or recorded without starting (skipped by overlap, a missed tick). */
export type RunEventName = 'run-started' | 'run-finished';

/** This host's executor as the control API sees it: what runs, and how to stop it. */
export interface RecorderPort {
  on(event: 'run-recorded', listener: (run: RunRecord) => void): unknown;
  off(event: 'run-recorded', listener: (run: RunRecord) => void): unknown;
}

export interface ExecutorPort {
  isRunning(job: string): boolean;
  /** Run ids it sent SIGTERM to. */
  kill(job: string, runId?: string): string[];
  /** Run ids in flight, per job. */
  running(): ReadonlyMap<string, readonly string[]>;
  runningCount(): number;
  // One signature per kind of event: the executor's own emitter knows more events than these.
  on(event: RunEventName, listener: (run: RunRecord) => void): unknown;
  on(event: 'output', listener: (output: OutputEvent) => void): unknown;
  off(event: RunEventName, listener: (run: RunRecord) => void): unknown;
  off(event: 'output', listener: (output: OutputEvent) => void): unknown;
}

/** The cluster side of a daemon, as the cluster versions of the control methods need it. */
export interface ClusterPort {
  /** Runs in flight anywhere in the cluster, per job. */
  runningEverywhere(job?: string): Promise<ReadonlyMap<string, RunSummary[]>>;
  /** Finished runs' summaries from every host, newest first. */
  summaries(job?: string): Promise<RunSummary[]>;
  /** Run ids killed, wherever they ran. */
  killEverywhere(job: string, runId?: string): Promise<string[]>;
  /** The chosen node's answer, as its control API gave it; it came over etcd, so its shape is not known here. */
  runSomewhere(job: JobDefinition): Promise<unknown>;
  /** Null when the node is not among the live ones. */
  peerUrlOf(node: string): string | null;
  readonly peer: PeerOutputSource;
  readonly directory: { list(): NodeState[] };
  /** The cluster's job list, which `validate --diff` compares a file with. */
  readonly jobSource: { records(): ReadonlyMap<string, JobRecord> };
  /** Runs recorded anywhere in the cluster, as they are seen. */
  readonly runs: {
    on(event: 'run', listener: (run: RunRecord) => void): unknown;
    off(event: 'run', listener: (run: RunRecord) => void): unknown;
  };
}

/** Reads a run's output from the node that made it. */
export interface PeerOutputSource {
  streamOutput(baseUrl: string, id: string, options: { after?: number; follow?: boolean }, onEvent: (event: PeerLogEvent) => void): OutputStreamHandle;
}
