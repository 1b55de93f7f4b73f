import type Database from 'better-sqlite3';
import type { Db } from '../runlog/database.js';
import type { ClaimOutcome, ClaimRequest, Coordinator } from './coordinator.js';

interface Statements {
  claim: Database.Statement<[string, number], number>;
  nextFence: Database.Statement<[string], number>;
  cursor: Database.Statement<[string], number | null>;
  advance: Database.Statement<[string, number], unknown>;
}

/**
 * Single-host coordination on the daemon's SQLite file (`job_cursor`). Each
 * operation is one upsert statement, so it is atomic on its own, and cursors
 * and fences are on disk, so a restarted daemon neither re-runs a claimed tick
 * nor hands out a fence it already used.
 */
export class EmbeddedCoordinator implements Coordinator {
  private readonly statements: Statements;

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
    try {
      return await work();
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT');
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

  async nextFence(job: string): Promise<number> {
    // An upsert's RETURNING always yields the row.
    return this.statements.nextFence.get(job) as number;
  }

  async cursor(job: string): Promise<number | null> {
    return this.statements.cursor.get(job) ?? null;
  }

  async startCursor(job: string, nowMs: number): Promise<number> {
    await this.advanceCursor(job, nowMs);
    return nowMs;
  }

  async advanceCursor(job: string, tickMs: number): Promise<boolean> {
    return this.statements.advance.run(job, tickMs).changes > 0;
  }

  async close(): Promise<void> {
    // Nothing of its own to release: see the constructor.
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
    advance: db.prepare<[string, number], unknown>(
      `INSERT INTO job_cursor (job, cursor_ms, fence) VALUES (?, ?, 0)
       ON CONFLICT (job) DO UPDATE SET cursor_ms = excluded.cursor_ms
         WHERE cursor_ms IS NULL OR excluded.cursor_ms > cursor_ms`,
    ),
  };
}
