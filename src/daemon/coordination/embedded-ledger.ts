import { EventEmitter } from 'node:events';
import type { Db } from '../runlog/database.js';
import { applyReport, decodeJobDone, decodeTickState, sameDone, type JobDone, type Settlement, type ShardReport, type TickLedger, type TickLedgerEvents } from '../ticks/tick-ledger.js';

/**
 * The tick ledger of a single host, in the daemon's SQLite file: each report
 * is one transaction, and the done states outlive a restart, so a child
 * whose parent ended just before a crash still runs (or is recorded missed)
 * when the daemon is back.
 */
export class EmbeddedTickLedger extends EventEmitter<TickLedgerEvents> implements TickLedger {
  private readonly done = new Map<string, JobDone>();
  private readonly reportTxn;

  constructor(private readonly db: Db) {
    super();
    const getTick = db.prepare<[string, number], string>('SELECT state FROM tick_ledger WHERE job = ? AND tick_ms = ?').pluck();
    const putTick = db.prepare('INSERT INTO tick_ledger (job, tick_ms, state) VALUES (?, ?, ?) ON CONFLICT (job, tick_ms) DO UPDATE SET state = excluded.state');
    const dropTick = db.prepare('DELETE FROM tick_ledger WHERE job = ? AND tick_ms = ?');
    const putDone = db.prepare('INSERT INTO job_done (job, state) VALUES (?, ?) ON CONFLICT (job) DO UPDATE SET state = excluded.state');
    this.reportTxn = db.transaction((r: ShardReport) => {
      const stored = getTick.get(r.job, r.tickMs);
      const { tick, done, settlement } = applyReport(stored === undefined ? null : decodeTickState(stored), this.done.get(r.job), r);
      if (settlement.repeated) return { settlement, done: null };
      // An ended tick is done with: its outcome lives on in the job's done state and the run records.
      if (settlement.endedNow) dropTick.run(r.job, r.tickMs);
      else putTick.run(r.job, r.tickMs, JSON.stringify(tick));
      const moved = !sameDone(this.done.get(r.job), done);
      if (moved) putDone.run(r.job, JSON.stringify(done));
      return { settlement, done: moved ? done : null };
    });
  }

  async start(): Promise<void> {
    for (const [job, state] of this.db.prepare<[], [string, string]>('SELECT job, state FROM job_done').raw().all()) {
      const done = decodeJobDone(state);
      if (done) this.done.set(job, done);
    }
  }

  async report(r: ShardReport): Promise<Settlement> {
    const { settlement, done } = this.reportTxn(r) as { settlement: Settlement; done: JobDone | null };
    if (done) {
      this.done.set(r.job, done);
      this.emit('done', r.job, done);
    }
    return settlement;
  }

  doneOf(job: string): JobDone | undefined {
    return this.done.get(job);
  }

  async close(): Promise<void> {}
}
