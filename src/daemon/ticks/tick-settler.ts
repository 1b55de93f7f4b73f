/**
 * The end of a whole tick of a sharded or depended-on job. Each run chain
 * that ends (all its attempts) reports its shard to the tick ledger; the one
 * report that makes the tick fail fires the job's alerts, once per tick and
 * naming the failed shards, and the ledger's done state, moved by the report
 * that ends the tick, is what dependent jobs follow (dependencies.ts).
 */
import type { JobDefinition } from '../crontab/types.js';
import type { ChainEnd } from '../executor/executor.js';
import type { Logger } from '../log.js';
import type { RunLog } from '../runlog/run-log.js';
import type { RunRecord, RunStatus } from '../runlog/types.js';
import type { TickLedger } from './tick-ledger.js';

/** Ends that alert: a kill on request or a shutdown does not page anyone, as for unsharded jobs. */
const ALERTING: ReadonlySet<RunStatus> = new Set(['failed', 'timeout']);

export interface TickSettlerOptions {
  ledger: TickLedger;
  runLog: RunLog;
  log: Logger;
  jobOf: (name: string) => JobDefinition | undefined;
  /** Some job runs after this one (`after=` or `after-failure=`). */
  hasDependents: (job: string) => boolean;
  alertTickFailed: (job: JobDefinition, run: RunRecord, env: Record<string, string>, failedShards: readonly number[]) => void;
  /** Retried reports of a tick whose report could not be written are given up after this many attempts. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class TickSettler {
  constructor(private readonly opts: TickSettlerOptions) {}

  /** Whether a job's ticks go through the ledger at all: most jobs' do not, and cost nothing here. */
  tracks(job: JobDefinition): boolean {
    return job.options.shards > 1 || this.opts.hasDependents(job.name);
  }

  chainEnded(end: ChainEnd): void {
    const job = this.opts.jobOf(end.job);
    if (!job || !this.tracks(job)) return;
    void this.report(job, end, end.status === 'ok');
  }

  /** A shard whose host died mid-run with nobody to rerun it (failover=none): it ended, not ok. */
  lostElsewhere(jobName: string, tickMs: number, shard: number | null, shards: number | null): void {
    const job = this.opts.jobOf(jobName);
    if (!job || !this.tracks(job)) return;
    void this.count(job, { job: jobName, tickMs, shards: shards ?? 1, shard: shard ?? 0, ok: false, atMs: Date.now() }).catch((err: unknown) => this.opts.log.warn('could not count a lost shard in the tick ledger', { job: jobName, tick: tickMs, shard, err }));
  }

  private async report(job: JobDefinition, end: ChainEnd, ok: boolean): Promise<void> {
    const { log } = this.opts;
    try {
      const settlement = await this.count(job, { job: job.name, tickMs: end.tickMs, shards: end.shard?.count ?? 1, shard: end.shard?.index ?? 0, ok, atMs: end.endedMs });
      const { state } = settlement;
      if (settlement.endedNow) log.info(state.failed.length === 0 ? 'tick ended ok' : 'tick ended failed', { job: job.name, tick: end.tickMs, shards: state.shards, ok: state.ok.length, failed: state.failed.length });
      if (!settlement.failedNow || !ALERTING.has(end.status) || end.shard === null || end.env === null) return;
      const run = this.opts.runLog.getRun(end.runId);
      if (run) this.opts.alertTickFailed(job, run, end.env, [...state.failed].sort((a, b) => a - b));
    } catch (err) {
      log.error('could not count the run in its tick ledger: the tick will not end, nor start its dependents', { job: job.name, tick: end.tickMs, shard: end.shard?.index, err });
    }
  }

  /** Retried while the store fails: a report lost here would leave the tick open and its dependents waiting. */
  private async count(job: JobDefinition, report: Parameters<TickLedger['report']>[0]) {
    const max = this.opts.maxAttempts ?? 20;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.opts.ledger.report(report);
      } catch (err) {
        if (attempt >= max) throw err;
        if (attempt === 1) this.opts.log.warn('could not write the tick ledger; retrying', { job: job.name, tick: report.tickMs, err });
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  }
}
