import type Database from 'better-sqlite3';
import type { Db } from '../runlog/database.js';
import type { ClaimOutcome, ClaimRequest, Coordinator } from './coordinator.js';

interface Statements {
  claim: Database.Statement<[string, number], number>;
  nextFence: Database.Statement<[string], number>;
  cursor: Database.Statement<[string], number | null>;
  allCursors: Database.Statement<[], [string, number | null]>;
  advance: Database.Statement<[string, number], unknown>;
  /** advance for many jobs at once: a JSON array of [job, tickMs] pairs. */
  advanceMany: Database.Statement<[string], unknown>;
}

/** Starts per background write: each holds the event loop a few milliseconds. */
const START_CHUNK = 2_000;

/**
 * Single-host coordination on the daemon's SQLite file (`job_cursor`). Each
 * operation is one upsert statement, so it is atomic on its own, and cursors
 * and fences are on disk, so a restarted daemon neither re-runs a claimed tick
 * nor hands out a fence it already used.
 */
export class EmbeddedCoordinator implements Coordinator {
  private readonly statements: Statements;
  /** Inside batch(): every cursor, read once, and the new jobs' starts, written after it. */
  private bulk: { cursors: Map<string, number | null>; starts: Array<[string, number]> } | null = null;
  /** New jobs' starts not written yet, from `startsHead` on; written in the background in chunks. */
  private starts: Array<[string, number]> = [];
  private startsHead = 0;
  private startsTimer: NodeJS.Immediate | null = null;

  /** The database stays the caller's: it is shared with the run log and closed by its opener. */
  constructor(private readonly db: Db) {
    this.statements = prepare(db);
  }

  /**
   * One SQLite transaction around `work`, instead of one commit per cursor
   * write: at boot with 100,000 new jobs the per-statement commits were most
   * of the load time after parsing (bench/scale.ts). Everything work did is
   * committed, also when it throws, as the statements would have been one by
   * one. Other writers on this connection in the meantime (the run log) join
   * the same transaction, which changes nothing for them but when it is
   * committed. Nested calls run inside the outer transaction.
   */
  async batch<T>(work: () => Promise<T>): Promise<T> {
    if (this.db.inTransaction) return work();
    this.db.exec('BEGIN');
    // At boot every job asks for its cursor and most new ones start theirs: one read of the table
    // instead of 100,000, and the starts written after the daemon is up (bench/scale.ts: writing
    // 100,000 of them was a third of a second of the boot).
    this.bulk = { cursors: new Map(this.statements.allCursors.all()), starts: [] };
    try {
      return await work();
    } finally {
      const { starts } = this.bulk;
      this.bulk = null;
      if (this.db.inTransaction) this.db.exec('COMMIT');
      this.writeStartsLater(starts);
    }
  }

  /** On one host the executor enforces overlap itself, so busy marks and per-host copies need nothing here. */
  async claim({ job, tickMs }: ClaimRequest): Promise<ClaimOutcome> {
    const claim = await this.claimTick(job, tickMs);
    return claim === null ? { outcome: 'taken' } : { outcome: 'claimed', fence: claim.fence };
  }

  async claimTick(job: string, tickMs: number): Promise<{ fence: number } | null> {
    const fence = this.statements.claim.get(job, tickMs);
    return fence === undefined ? null : { fence };
  }

  async releaseBusy(): Promise<void> {
    // No busy marks on one host: see claim().
  }

  /** No other node can take a tick here: the wait runs out and the claim decides. */
  takenElsewhere(_job: string, _tickMs: number, withinMs: number): Promise<boolean> {
    return new Promise((resolve) => setTimeout(() => resolve(false), withinMs));
  }

  /** Nothing can take a single host's ticks while it runs. */
  mayAct(): boolean {
    return true;
  }

  /** A run interrupted by this host's own crash is marked lost at its next start; there is no peer to rerun it. */
  async claimFailover(): Promise<null> {
    return null;
  }

  async nextFence(job: string): Promise<number> {
    // An upsert's RETURNING always yields the row.
    return this.statements.nextFence.get(job) as number;
  }

  async cursor(job: string): Promise<number | null> {
    // A claim made during the batch moves a job's cursor only after that job was scheduled, so the snapshot holds.
    if (this.bulk) return this.bulk.cursors.get(job) ?? null;
    return this.statements.cursor.get(job) ?? null;
  }

  /**
   * In a batch, written soon after it, in the background; a claim made before then is kept
   * (cursors only move forward). A daemon that dies first starts those jobs from now again
   * on its next start, as if new: none of them had a tick claimed yet.
   */
  async startCursor(job: string, nowMs: number): Promise<number> {
    if (this.bulk) this.bulk.starts.push([job, nowMs]);
    else await this.advanceCursor(job, nowMs);
    return nowMs;
  }

  async advanceCursor(job: string, tickMs: number): Promise<boolean> {
    return this.statements.advance.run(job, tickMs).changes > 0;
  }

  /** Writes whatever starts are still pending; the database itself is the caller's (see the constructor). */
  async close(): Promise<void> {
    if (this.startsTimer) clearImmediate(this.startsTimer);
    this.startsTimer = null;
    while (this.startsHead < this.starts.length) this.writeStartsChunk();
  }

  private writeStartsLater(starts: Array<[string, number]>): void {
    if (starts.length === 0) return;
    this.starts = this.startsHead < this.starts.length ? [...this.starts.slice(this.startsHead), ...starts] : starts;
    this.startsHead = 0;
    this.startsTimer ??= setImmediate(this.writeStartsInTurns);
  }

  /** One chunk per turn of the event loop, so timers and claims go in between. */
  private readonly writeStartsInTurns = (): void => {
    this.startsTimer = null;
    this.writeStartsChunk();
    if (this.startsHead < this.starts.length) this.startsTimer = setImmediate(this.writeStartsInTurns);
  };

  private writeStartsChunk(): void {
    const chunk = this.starts.slice(this.startsHead, this.startsHead + START_CHUNK);
    this.startsHead += chunk.length;
    if (this.startsHead >= this.starts.length) {
      this.starts = [];
      this.startsHead = 0;
    }
    try {
      this.statements.advanceMany.run(JSON.stringify(chunk));
    } catch {
      // A full disk, say: these jobs start from now again next time, as after a crash (see startCursor).
    }
  }
}

// A job's row is created by whichever call comes first, with the fence that
// call hands out (1), or 0 from advanceCursor, which hands out none.
function prepare(db: Db): Statements {
  return {
    // The DO UPDATE's WHERE makes a stale or repeated tick return no row.
    claim: db
      .prepare<[string, number], number>(
        `INSERT INTO job_cursor (job, cursor_ms, fence) VALUES (?, ?, 1)
         ON CONFLICT (job) DO UPDATE SET cursor_ms = excluded.cursor_ms, fence = fence + 1
           WHERE cursor_ms IS NULL OR excluded.cursor_ms > cursor_ms
         RETURNING fence`,
      )
      .pluck(),
    nextFence: db
      .prepare<[string], number>(
        `INSERT INTO job_cursor (job, cursor_ms, fence) VALUES (?, NULL, 1)
         ON CONFLICT (job) DO UPDATE SET fence = fence + 1
         RETURNING fence`,
      )
      .pluck(),
    cursor: db.prepare<[string], number | null>('SELECT cursor_ms FROM job_cursor WHERE job = ?').pluck(),
    allCursors: db.prepare<[], [string, number | null]>('SELECT job, cursor_ms FROM job_cursor').raw(),
    advance: db.prepare<[string, number], unknown>(
      `INSERT INTO job_cursor (job, cursor_ms, fence) VALUES (?, ?, 0)
       ON CONFLICT (job) DO UPDATE SET cursor_ms = excluded.cursor_ms
         WHERE cursor_ms IS NULL OR excluded.cursor_ms > cursor_ms`,
    ),
    // WHERE true: without it SQLite would read ON CONFLICT as part of the SELECT's join.
    advanceMany: db.prepare<[string], unknown>(
      `INSERT INTO job_cursor (job, cursor_ms, fence) SELECT value ->> 0, value ->> 1, 0 FROM json_each(?) WHERE true
       ON CONFLICT (job) DO UPDATE SET cursor_ms = excluded.cursor_ms
         WHERE cursor_ms IS NULL OR excluded.cursor_ms > cursor_ms`,
    ),
  };
}
