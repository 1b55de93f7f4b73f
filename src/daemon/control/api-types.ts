import type { RunRecord } from '../runlog/types.js';

/** Shapes the control API returns; shared by the daemon, the CLI and the TUI. */

export interface JobView {
  name: string;
  scheduleText: string;
  /** The schedule in words; for a job that runs after others, which ones (`after backup`). */
  description: string;
  tz: string;
  command: string;
  nextTickMs: number | null;
  lastRun: RunRecord | null;
  /** Run ids executing now, with the host running each. */
  running: Array<{ runId: string; host: string }>;
  source: { file: string; line: number };
  /** Kept with its previous definition because its line now has an error. */
  retained: boolean;
  /** Shard runs per tick; 1: not sharded. */
  shards: number;
  /** Runs after every one of these jobs finished a tick ok; null: not `after=`. */
  after: string[] | null;
  /** Runs after one of these jobs failed a tick; null: not `after-failure=`. */
  afterFailure: string[] | null;
  /** An operator's pause in effect now (`dcron pause`): its ticks are recorded paused. */
  paused: PauseView | null;
}

export interface PauseView {
  /** Null: until `dcron resume`. */
  untilMs: number | null;
  atMs: number;
  /** The host that took the pause. */
  by: string;
}

export interface StatusView {
  version: string;
  pid: number;
  node: string;
  mode: 'single-host' | 'cluster';
  dataDir: string;
  /** Null for a cluster node that follows the shared list without a file of its own. */
  crontab: string | null;
  startedMs: number;
  nowMs: number;
  jobs: number;
  running: number;
  /** Jobs of the table paused now, by name. */
  paused: string[];
  /** Concurrency groups: this daemon's `--group` limits, and groups its jobs name without one here (limit null). */
  groups: GroupView[];
  lastLoad: {
    atMs: number;
    errors: string[];
    warnings: string[];
    retained: string[];
    readError: string | null;
  } | null;
}

export interface GroupView {
  name: string;
  /** This daemon's `--group NAME=K`; null: the group's jobs do not run on this host. */
  limit: number | null;
  /** Permits held now, cluster-wide as far as this host knows. */
  inUse: number;
  /** Jobs of the table in the group. */
  jobs: number;
}

export interface RunStartView {
  outcome: 'started' | 'queued' | 'skipped';
  runId: string | null;
  message: string | null;
}

/** One backfilled tick: ran `ok` or `failed` (waited), `started`/`queued` (not waited), or `refused` with why. */
export interface BackfillTickView {
  tickMs: number;
  outcome: 'ok' | 'failed' | 'started' | 'queued' | 'refused';
  runIds: string[];
  message: string | null;
}

/** Events of the `logs` stream. Output data is base64: runs may print binary. */
export type LogEvent =
  | { type: 'run'; run: RunRecord }
  | { type: 'output'; runId: string; seq: number; stream: string; tsMs: number; data: string }
  | { type: 'end'; run: RunRecord }
  | { type: 'waiting'; job: string };

/** A node's figures (ticks/host-figures.ts): bytes, and the 1-minute load. */
export interface HostFiguresView {
  memFreeBytes: number;
  load1: number;
  /** Null when the node could not read its data dir's file system. */
  diskFreeBytes: number | null;
}

export interface NodeView {
  id: string;
  /** The node this daemon runs as. */
  self: boolean;
  /** Its lease is proven (a node that cannot prove it claims nothing). */
  healthy: boolean;
  /** Its wall clock minus ours when its record was last written and read. */
  skewMs: number;
  running: number;
  /** Slots in use of its `--slots` (total 0: no limit); null for a node of an older version. */
  slots: { used: number; total: number } | null;
  /** What `requires=` compares, as the node last published it; null for a node of an older version. */
  figures: HostFiguresView | null;
  uptimeMs: number;
  labels: Record<string, string>;
  version: string;
  peerUrl: string | null;
}

/** Events of the `events` stream: a snapshot first, then what changed. */
export type DaemonEvent =
  | { type: 'snapshot'; status: StatusView; jobs: JobView[]; running: RunRecord[]; recent: RunRecord[]; nodes: NodeView[] }
  /** A run started, finished or was recorded (skipped, missed) somewhere. */
  | { type: 'run'; run: RunRecord }
  /** The job table changed (reload, cluster list): the full list again. */
  | { type: 'jobs'; jobs: JobView[] }
  /** A job's next tick moved (after each tick). */
  | { type: 'next'; job: string; nextTickMs: number | null }
  | { type: 'nodes'; nodes: NodeView[] }
  | { type: 'status'; status: StatusView };
