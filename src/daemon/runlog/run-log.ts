import type Database from 'better-sqlite3';
import { isDiskFull, type DiskReserve } from './disk-reserve.js';
import { DcronError } from '../errors.js';
import type { Db } from './database.js';
import type {
  FinishStatus,
  OutputChunk,
  OutputStream,
  RunRecord,
  UnstartedStatus,
} from './types.js';

/** What identifies a run, started or not. */
export type RunIdentity = Pick<RunRecord, 'id' | 'job' | 'tickMs' | 'trigger' | 'attempt' | 'fence' | 'host'> & Partial<Pick<RunRecord, 'shard' | 'shards'>>;

export interface RunStart extends RunIdentity {
  startedMs: number;
  pid?: number | null;
}

export interface RunEnd {
  status: FinishStatus;
  endedMs: number;
  exitCode: number | null;
  signal: string | null;
  message?: string | null;
  /** Once a run is marked truncated it stays so; false here does not clear it. */
  truncated?: boolean;
}

export interface UnstartedRun extends RunIdentity {
  status: UnstartedStatus;
  atMs: number;
  message: string;
}

export interface HistoryQuery {
  job?: string;
  /** Defaults to 100. */
  limit?: number;
  /** Exact id of the last run of the previous page: returns the runs before it. */
  beforeId?: string;
  /** Only runs of this shard (0-based) of a sharded job. */
  shard?: number;
}

export interface RetentionPolicy {
  keepRunsPerJob: number;
  maxOutputBytes: number;
}

export interface RetentionResult {
  deletedRuns: number;
  deletedBytes: number;
}

export class RunNotFoundError extends DcronError {
  constructor(readonly id: string) {
    super(`no run with id ${id}`);
  }
}

export class AmbiguousRunIdError extends DcronError {
  constructor(readonly prefix: string, readonly matches: string[]) {
    super(`run id prefix ${prefix} matches several runs, among them ${matches.join(', ')}: type more of it`);
  }
}

/** Shorter prefixes would match by start time alone and be ambiguous most of the time. */
export const MIN_RUN_ID_PREFIX = 4;

const DEFAULT_HISTORY_LIMIT = 100;
/** How many of the matching ids an ambiguity error lists. */
const LISTED_MATCHES = 5;
/** Sorts after every character, so [prefix, prefix + MAX_CHAR) is the range of ids starting with prefix. */
const MAX_CHAR = '\u{10FFFF}';
const LOST_MESSAGE = 'the daemon stopped while this run was in progress; its outcome is unknown';

const RUN_COLUMNS = `id, job, tick_ms AS tickMs, trigger, attempt, fence, host, status,
  started_ms AS startedMs, ended_ms AS endedMs, exit_code AS exitCode, signal, pid,
  output_bytes AS outputBytes, truncated, message, shard, shards`;

type RunRow = Omit<RunRecord, 'truncated'> & { truncated: 0 | 1 };

/** Every list of runs is ordered by this key; id breaks ties within a millisecond. */
interface RunKey {
  startedMs: number;
  id: string;
}

/**
 * Run records and their output in the daemon's SQLite file. Synchronous: each
 * call is a short indexed statement, cheaper than a hop to a worker thread.
 */
export class RunLog {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly appendTransaction;
  private readonly retentionTransaction;

  /** False from a write that found the disk full until recheckSpace() finds room again. */
  private full = false;

  constructor(private readonly db: Db, private readonly reserve: DiskReserve | null = null) {
    this.appendTransaction = db.transaction(this.insertChunk.bind(this));
    this.retentionTransaction = db.transaction(this.deleteOldRuns.bind(this));
  }

  /** Whether the last write had room. A cluster node that cannot record runs leaves its ticks to others. */
  get writable(): boolean {
    return !this.full;
  }

  /** After a disk-full write: true once the reserve fits again, and writes are trusted again. */
  recheckSpace(): boolean {
    if (this.full && (this.reserve === null || this.reserve.ensure())) this.full = false;
    return !this.full;
  }

  startRun(run: RunStart): void {
    this.write(() =>
      this.statement(
        `INSERT INTO runs (id, job, tick_ms, trigger, attempt, fence, host, status, started_ms, pid, shard, shards)
         VALUES (@id, @job, @tickMs, @trigger, @attempt, @fence, @host, 'running', @startedMs, @pid, @shard, @shards)`,
      ).run({ ...run, pid: run.pid ?? null, shard: run.shard ?? null, shards: run.shards ?? null }),
    );
  }

  setPid(id: string, pid: number): void {
    const { changes } = this.write(() => this.statement('UPDATE runs SET pid = ? WHERE id = ?').run(pid, id));
    if (changes === 0) throw new RunNotFoundError(id);
  }

  /** Stores one chunk as it arrives and returns its seq. Enforcing `max-output` is the caller's job. */
  appendOutput(runId: string, stream: OutputStream, data: Buffer, tsMs: number): number {
    return this.write(() => this.appendTransaction(runId, stream, data, tsMs));
  }

  /**
   * Records how a run ended. Returns false, changing nothing, when the run had
   * already ended: the first outcome recorded wins (a kill racing the exit,
   * a run marked lost at startup).
   */
  finishRun(id: string, end: RunEnd): boolean {
    const { changes } = this.write(() =>
      this.statement(
        `UPDATE runs SET status = @status, ended_ms = @endedMs, exit_code = @exitCode, signal = @signal,
           message = @message, truncated = MAX(truncated, @truncated)
         WHERE id = @id AND status = 'running'`,
      ).run({ ...end, id, message: end.message ?? null, truncated: end.truncated ? 1 : 0 }),
    );
    if (changes === 0 && !this.exists(id)) throw new RunNotFoundError(id);
    return changes > 0;
  }

  /** A tick that never started a process; it starts and ends at `atMs`. */
  recordUnstarted(run: UnstartedRun): void {
    this.write(() =>
      this.statement(
        `INSERT INTO runs (id, job, tick_ms, trigger, attempt, fence, host, status, started_ms, ended_ms, message, shard, shards)
         VALUES (@id, @job, @tickMs, @trigger, @attempt, @fence, @host, @status, @atMs, @atMs, @message, @shard, @shards)`,
      ).run({ ...run, shard: run.shard ?? null, shards: run.shards ?? null }),
    );
  }

  /**
   * A write that finds the disk full marks the log unwritable and is tried
   * once more in the space the reserve gives up, so the record of a run
   * already under way is kept.
   */
  private write<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.full = true;
      if (this.reserve?.release()) return work();
      throw err;
    }
  }

  /**
   * A run by full id or by a unique prefix of at least MIN_RUN_ID_PREFIX
   * characters. Case-insensitive for generated ids, which are upper-case.
   */
  getRun(idOrPrefix: string): RunRecord | undefined {
    const upper = idOrPrefix.toUpperCase();
    return this.findRun(idOrPrefix) ?? (upper === idOrPrefix ? undefined : this.findRun(upper));
  }

  /** Newest first. */
  history(query: HistoryQuery = {}): RunRecord[] {
    const conditions: string[] = [];
    const params: Record<string, unknown> = { limit: query.limit ?? DEFAULT_HISTORY_LIMIT };
    if (query.job !== undefined) {
      conditions.push('job = @job');
      params.job = query.job;
    }
    if (query.shard !== undefined) {
      conditions.push('shard = @shard');
      params.shard = query.shard;
    }
    if (query.beforeId !== undefined) {
      const before = this.runKey(query.beforeId);
      conditions.push('(started_ms, id) < (@beforeMs, @beforeId)');
      params.beforeMs = before.startedMs;
      params.beforeId = before.id;
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    return this.statement<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs ${where} ORDER BY started_ms DESC, id DESC LIMIT @limit`,
    )
      .all(params)
      .map(toRecord);
  }

  /** Every record of one tick of a job (all shards, attempts and triggers), through runs_by_job_tick_ms. */
  runsOfTick(job: string, tickMs: number): RunRecord[] {
    return this.statement<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE job = ? AND tick_ms = ?`).all(job, tickMs).map(toRecord);
  }

  lastRun(job: string): RunRecord | undefined {
    return this.history({ job, limit: 1 })[0];
  }

  /** The latest run of every job that has one. */
  lastRunsByJob(): Map<string, RunRecord> {
    // A loose index scan: hop from job to job through runs_by_job_start and
    // take each one's newest entry, so the cost grows with the number of jobs,
    // not the number of runs kept.
    const rows = this.statement<RunRow>(
      `WITH RECURSIVE jobs (job) AS (
         SELECT MIN(job) FROM runs
         UNION ALL
         SELECT (SELECT MIN(job) FROM runs WHERE job > jobs.job) FROM jobs WHERE jobs.job IS NOT NULL
       )
       SELECT ${RUN_COLUMNS} FROM runs WHERE rowid IN (
         SELECT (SELECT rowid FROM runs AS latest WHERE latest.job = jobs.job
                 ORDER BY started_ms DESC, id DESC LIMIT 1)
         FROM jobs WHERE jobs.job IS NOT NULL
       )`,
    ).all();
    return new Map(rows.map((row) => [row.job, toRecord(row)]));
  }

  runningRuns(): RunRecord[] {
    return this.statement<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE status = 'running' ORDER BY started_ms, id`,
    )
      .all()
      .map(toRecord);
  }

  /** Chunks of a run (full id) after `afterSeq`, in order; all of them when no limit is given. */
  readOutput(runId: string, afterSeq = 0, limit?: number): OutputChunk[] {
    return this.statement<OutputChunk>(
      `SELECT run_id AS runId, seq, stream, ts_ms AS tsMs, data FROM output
       WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ).all(runId, afterSeq, limit ?? -1);
  }

  /**
   * At daemon start, nothing this host left running is still running: its
   * processes died with the daemon or were orphaned, and no outcome will
   * arrive. Marks those runs lost and returns them.
   */
  markInterruptedAsLost(host: string, atMs: number): RunRecord[] {
    return this.statement<RunRow>(
      `UPDATE runs SET status = 'lost', ended_ms = @atMs, message = @message
       WHERE status = 'running' AND host = @host
       RETURNING ${RUN_COLUMNS}`,
    )
      .all({ host, atMs, message: LOST_MESSAGE })
      .map(toRecord)
      .sort(compareRuns);
  }

  /**
   * Keeps the newest `keepRunsPerJob` finished runs of each job, then deletes
   * whole runs, oldest first, until the stored output fits `maxOutputBytes`.
   * Running runs are never deleted.
   */
  applyRetention(policy: RetentionPolicy): RetentionResult {
    return this.retentionTransaction(policy);
  }

  totalOutputBytes(): number {
    return this.statement<number>('SELECT COALESCE(SUM(output_bytes), 0) FROM runs').pluck().get() as number;
  }

  private insertChunk(runId: string, stream: OutputStream, data: Buffer, tsMs: number): number {
    const { changes } = this.statement('UPDATE runs SET output_bytes = output_bytes + ? WHERE id = ?').run(
      data.length,
      runId,
    );
    if (changes === 0) throw new RunNotFoundError(runId);
    return this.statement<number>(
      `INSERT INTO output (run_id, seq, stream, ts_ms, data)
       SELECT @runId, COALESCE(MAX(seq), 0) + 1, @stream, @tsMs, @data FROM output WHERE run_id = @runId
       RETURNING seq`,
    )
      .pluck()
      .get({ runId, stream, tsMs, data }) as number;
  }

  private deleteOldRuns(policy: RetentionPolicy): RetentionResult {
    const perJob = this.deleteBeyondPerJobLimit(policy.keepRunsPerJob);
    const overCap = this.deleteOldestOverByteCap(policy.maxOutputBytes);
    return {
      deletedRuns: perJob.deletedRuns + overCap.deletedRuns,
      deletedBytes: perJob.deletedBytes + overCap.deletedBytes,
    };
  }

  private deleteBeyondPerJobLimit(keep: number): RetentionResult {
    // Counting runs per job reads only the runs_by_job_start index, so a pass
    // with nothing to delete stays cheap; only jobs over the limit are then
    // walked. Counts include running runs, so a candidate may lose nothing.
    const candidates = this.statement<string>('SELECT job FROM runs GROUP BY job HAVING COUNT(*) > ?')
      .pluck()
      .all(keep);
    const bytes = candidates.flatMap((job) =>
      this.statement<number>(
        `DELETE FROM runs WHERE rowid IN (
           SELECT rowid FROM runs WHERE job = @job AND status <> 'running'
           ORDER BY started_ms DESC, id DESC LIMIT -1 OFFSET @keep
         )
         RETURNING output_bytes`,
      )
        .pluck()
        .all({ job, keep }),
    );
    return { deletedRuns: bytes.length, deletedBytes: sum(bytes) };
  }

  private deleteOldestOverByteCap(maxBytes: number): RetentionResult {
    const excess = this.totalOutputBytes() - maxBytes;
    if (excess <= 0) return { deletedRuns: 0, deletedBytes: 0 };
    // Walk finished runs oldest first only as far as needed; the runs to drop
    // are then exactly those at or before the last one walked.
    let freed = 0;
    let boundary: RunKey | undefined;
    for (const run of this.statement<RunKey & { outputBytes: number }>(
      `SELECT started_ms AS startedMs, id, output_bytes AS outputBytes FROM runs
       WHERE status <> 'running' ORDER BY started_ms, id`,
    ).iterate()) {
      freed += run.outputBytes;
      boundary = run;
      if (freed >= excess) break;
    }
    if (boundary === undefined) return { deletedRuns: 0, deletedBytes: 0 };
    const { changes } = this.statement(
      `DELETE FROM runs WHERE status <> 'running' AND (started_ms, id) <= (@startedMs, @id)`,
    ).run({ startedMs: boundary.startedMs, id: boundary.id });
    return { deletedRuns: changes, deletedBytes: freed };
  }

  private findRun(key: string): RunRecord | undefined {
    const exact = this.statement<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).get(key);
    if (exact !== undefined) return toRecord(exact);
    if (key.length < MIN_RUN_ID_PREFIX) return undefined;
    const matches = this.statement<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ${LISTED_MATCHES}`,
    ).all(key, key + MAX_CHAR);
    if (matches.length > 1) throw new AmbiguousRunIdError(key, matches.map((run) => run.id));
    return matches.length === 1 ? toRecord(matches[0]) : undefined;
  }

  private runKey(id: string): RunKey {
    const key = this.statement<RunKey>('SELECT started_ms AS startedMs, id FROM runs WHERE id = ?').get(id);
    if (key === undefined) throw new RunNotFoundError(id);
    return key;
  }

  private exists(id: string): boolean {
    return this.statement('SELECT 1 FROM runs WHERE id = ?').get(id) !== undefined;
  }

  /** Prepared once per SQL text and reused: preparing costs more than most of these statements. */
  private statement<Result = unknown>(sql: string): Database.Statement<unknown[], Result> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as Database.Statement<unknown[], Result>;
  }
}

function toRecord(row: RunRow): RunRecord {
  return { ...row, truncated: row.truncated === 1 };
}

function compareRuns(a: RunKey, b: RunKey): number {
  return a.startedMs - b.startedMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
