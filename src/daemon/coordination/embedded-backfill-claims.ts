import type { Db } from '../runlog/database.js';
import type { BackfillClaims } from './backfill-claims.js';

/** A single host's backfill claims: one row per unit and tick in `backfill_claim`, whose primary key refuses a second. */
export class EmbeddedBackfillClaims implements BackfillClaims {
  private readonly insert;
  private readonly drop;

  constructor(db: Db, private readonly host: string, private readonly now: () => number = Date.now) {
    this.insert = db.prepare<[string, number, string, number]>('INSERT INTO backfill_claim (unit, tick_ms, by_host, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
    this.drop = db.prepare<[string, number]>('DELETE FROM backfill_claim WHERE unit = ? AND tick_ms = ?');
  }

  async claim(unit: string, tickMs: number): Promise<boolean> {
    return this.insert.run(unit, tickMs, this.host, this.now()).changes > 0;
  }

  async release(unit: string, tickMs: number): Promise<void> {
    this.drop.run(unit, tickMs);
  }
}
