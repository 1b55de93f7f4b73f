import { EventEmitter } from 'node:events';
import type { Db } from '../runlog/database.js';
import { decodePause, encodePause, type JobPauses, type JobPausesEvents, type PauseState } from './job-pauses.js';

/** Pauses of a single host, in the daemon's SQLite file: they survive a restart. */
export class EmbeddedPauses extends EventEmitter<JobPausesEvents> implements JobPauses {
  private readonly pauses = new Map<string, PauseState>();
  private readonly putStmt;
  private readonly dropStmt;

  constructor(private readonly db: Db) {
    super();
    this.putStmt = db.prepare('INSERT INTO job_pause (job, state) VALUES (?, ?) ON CONFLICT (job) DO UPDATE SET state = excluded.state');
    this.dropStmt = db.prepare('DELETE FROM job_pause WHERE job = ?');
  }

  async start(): Promise<void> {
    for (const [job, text] of this.db.prepare<[], [string, string]>('SELECT job, state FROM job_pause').raw().all()) {
      const state = decodePause(text);
      if (state) this.pauses.set(job, state);
    }
  }

  get(job: string): PauseState | undefined {
    return this.pauses.get(job);
  }

  all(): ReadonlyMap<string, PauseState> {
    return this.pauses;
  }

  async pause(job: string, state: PauseState): Promise<void> {
    this.putStmt.run(job, encodePause(state));
    this.pauses.set(job, state);
    this.emit('changed', job, state);
  }

  async resume(job: string): Promise<boolean> {
    const dropped = this.dropStmt.run(job).changes > 0;
    if (this.pauses.delete(job) || dropped) {
      this.emit('changed', job, null);
      return true;
    }
    return false;
  }

  async close(): Promise<void> {}
}
