/**
 * The data a crontab file turns into. The parser produces these from text
 * alone; everything downstream (schedule, executor, coordination) reads them.
 */

import type { ScheduleSpec } from '../schedule/spec.js';

// A job's schedule is the schedule module's own type: crontab depends on schedule, never the reverse.
export type { CronField, DomField, DowField, CronFields, ScheduleSpec } from '../schedule/spec.js';

export type OverlapPolicy = 'skip' | 'allow' | 'queue' | 'replace';
export type OnLostPolicy = 'kill' | 'finish';
export type FailoverPolicy = 'none' | 'rerun';
export type RunMode = 'once' | 'all';

/** What `requires=` compares: free memory (bytes), the 1-minute load average, free space of the data dir (bytes). */
export type HostFigure = 'mem' | 'load' | 'disk';
export type RequirementOp = '>=' | '>' | '<=' | '<';

/** One term of `requires=`, e.g. `mem>=2GiB` as `{ figure: 'mem', op: '>=', value: 2147483648 }`. */
export interface HostRequirement {
  figure: HostFigure;
  op: RequirementOp;
  /** Bytes for `mem` and `disk` (a whole number), the load for `load` (at most 2 decimals). */
  value: number;
}

export interface JobOptions {
  /** Kill the run (whole process group) after this long; null: no timeout. */
  timeoutMs: number | null;
  overlap: OverlapPolicy;
  /** Extra attempts after a failed one. */
  retries: number;
  /** Backoff base: attempt n waits retryDelayMs * 2^(n-2). */
  retryDelayMs: number;
  /** A tick missed by at most this much still runs once; 0: never. */
  catchupMs: number;
  onLost: OnLostPolicy;
  failover: FailoverPolicy;
  /** Glob or label selector of eligible hosts; null: every host. */
  hosts: string | null;
  mode: RunMode;
  /** Start each tick up to this much late, the same delay on every host. */
  jitterMs: number;
  /** Bytes of output kept per run before truncation. */
  maxOutputBytes: number;
  /** Command run after a failed run, with its details in the environment. */
  onFailure: string | null;
  /** URL POSTed a JSON report after a failed run, besides the daemon's `--alert-webhook`. */
  onFailureWebhook: string | null;
  /** Working directory; null: the crontab's directory. */
  cwd: string | null;
  /** Shard runs per tick (1: not sharded); each is claimed, run and recorded on its own. */
  shards: number;
  /** Slots one run takes of a host's `--slots` (each shard run its own). */
  slots: number;
  /** Runs after every one of these jobs finished a tick ok, instead of on its schedule; null: scheduled. */
  after: string[] | null;
  /** Runs after one of these jobs failed a tick, instead of on its schedule; null: scheduled. */
  afterFailure: string[] | null;
  /** Concurrency group: at most the daemons' `--group NAME=K` runs of its jobs at once cluster-wide; null: none. */
  group: string | null;
  /** Cluster: a retry goes to another host (the next in the tick's rendezvous order) rather than this one. */
  retryElsewhere: boolean;
  /**
   * What this host's figures must meet when the tick is claimed, every term;
   * a host that does not passes the tick on. Null: any host. Last: records
   * written before it lack it and decode with it appended (job-record.ts).
   */
  requires: HostRequirement[] | null;
}

/** Which shard of a sharded job's tick, of how many (ticks/shards.ts). */
export interface ShardRef {
  index: number;
  count: number;
}

export interface JobDefinition {
  /** Stable id: `name=` or a short hash of schedule and command. */
  name: string;
  /** The schedule as written: `*\/5 * * * *`, `@every 90s`, `@daily`. */
  scheduleText: string;
  schedule: ScheduleSpec;
  /** IANA zone the schedule is computed in, fixed when the line is read. */
  tz: string;
  /** Command text given to `$SHELL -c`, with `%` handling applied. */
  command: string;
  /** Text after the first unescaped `%`, with further `%` as newlines; null if none. */
  stdin: string | null;
  shell: string;
  /** Environment lines in effect at this job's line (SHELL, CRON_TZ and TZ included as written). */
  env: Record<string, string>;
  options: JobOptions;
  source: { file: string; line: number };
}

export type DiagnosticSeverity = 'error' | 'warning';

/** A located problem in a crontab: `file:line:column: message`. */
export interface Diagnostic {
  severity: DiagnosticSeverity;
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in characters of the line. */
  column: number;
  message: string;
  /** The offending text. */
  text: string;
  /** The whole source line, so the column can be shown in context; absent when not from a file. */
  lineText?: string;
}

export interface ParseResult {
  jobs: JobDefinition[];
  /** Environment in effect at the end of the file. */
  env: Record<string, string>;
  diagnostics: Diagnostic[];
}

export interface ParseOptions {
  /** Name used in diagnostics and in job sources. */
  file: string;
  /** Zone of the reading host, used when neither `tz=` nor CRON_TZ is set. */
  defaultTz: string;
  /** Shell when the file sets no SHELL. */
  defaultShell?: string;
}
