/**
 * The end of a whole tick of a sharded or depended-on job, or of a mode=all
 * job in a cluster. Each run chain that ends (all its attempts) reports its
 * shard (or its host) to the tick ledger; the one report that makes the tick
 * fail fires the job's alerts, once per tick and naming the failed shards
 * (hosts), and the ledger's done state, moved when the tick ends, is what
 * dependent jobs follow (dependencies.ts).
 *
 * A mode=all tick's parts are the hosts that start it: each joins when its
 * run starts, and the tick is closed after the last end (HostTicks in
 * tick-ledger.ts), or when the join grace is over if an eligible host never
 * started it.
 */
import type { TickFailure } from '../alerts/alerter.js';
import type { JobDefinition } from '../crontab/types.js';
import type { ChainEnd } from '../executor/executor.js';
import type { Logger } from '../log.js';
import type { RunLog } from '../runlog/run-log.js';
import type { RunRecord, RunStatus } from '../runlog/types.js';
import type { HostTicks, TickLedger, TickState } from './tick-ledger.js';

/** Ends that alert: a kill on request or a shutdown does not page anyone, as for unsharded jobs. */
const ALERTING: ReadonlySet<RunStatus> = new Set(['failed', 'timeout']);

export interface TickSettlerOptions {
  ledger: TickLedger;
  runLog: RunLog;
  log: Logger;
  jobOf: (name: string) => JobDefinition | undefined;
  /** Some job runs after this one (`after=` or `after-failure=`). */
  hasDependents: (job: string) => boolean;
  alertTickFailed: (job: JobDefinition, run: RunRecord, env: Record<string, string>, failed: TickFailure) => void;
  /** This node's id: the host it joins mode=all ticks as. */
  nodeId: string;
  /** The hosts eligible for a job, as this node sees them: a mode=all tick that all of them joined may end at once. */
  eligibleHosts: (job: JobDefinition) => string[];
  now: () => number;
  /** Retried reports of a tick whose report could not be written are given up after this many attempts. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class TickSettler {
  /** This node's joins of mode=all ticks, by unit and tick, until its chain ends: its report waits for its join. */
  private readonly joins = new Map<string, Promise<boolean>>();
  private readonly closeTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: TickSettlerOptions) {}

  /** Whether a job's ticks go through the ledger at all: most jobs' do not, and cost nothing here. */
  tracks(job: JobDefinition): boolean {
    return job.options.shards > 1 || this.opts.hasDependents(job.name) || this.hostTicks(job) !== null;
  }

  /** Whether a failed run alerts once for its whole tick, from here, rather than on its own. */
  alertsPerTick(job: JobDefinition): boolean {
    return job.options.shards > 1 || this.hostTicks(job) !== null;
  }

  /** A run started here: the first attempt of a mode=all tick joins it. */
  runStarted(run: RunRecord): void {
    const job = this.opts.jobOf(run.job);
    const hosts = job ? this.hostTicks(job) : null;
    if (!job || !hosts || run.attempt !== 1 || !JOINING.has(run.trigger)) return;
    const key = joinKey(run.job, run.tickMs);
    if (this.joins.has(key)) return;
    // Refused by this host's own clock too: a tick may have ended long ago, its closed mark gone with it.
    if (this.opts.now() > run.tickMs + hosts.joinGraceMs) {
      this.opts.log.warn('mode=all run started after the tick\'s join grace: it runs, but the tick\'s result does not count it', { job: run.job, tick: run.tickMs, graceMs: hosts.joinGraceMs });
      this.joins.set(key, Promise.resolve(false));
      return;
    }
    this.joins.set(key, this.retried(job, run.tickMs, () => hosts.join(run.job, run.tickMs, this.opts.nodeId)).catch((err: unknown) => {
      this.opts.log.error('could not join the mode=all tick: the tick\'s result will not count this host', { job: run.job, tick: run.tickMs, err });
      return false;
    }));
  }

  chainEnded(end: ChainEnd): void {
    const job = this.opts.jobOf(end.job);
    // A backfilled tick is long past: its ledger closed (or its ticks were missed), and reopening it
    // would move the job's done state backwards or start its after= children for an old tick.
    if (!job || !this.tracks(job) || end.trigger === 'backfill') return;
    const hosts = this.hostTicks(job);
    if (hosts) void this.reportHost(job, hosts, end);
    else void this.report(job, end, end.status === 'ok');
  }

  /** A shard (or mode=all host) whose host died mid-run with nobody to rerun it (failover=none): it ended, not ok. */
  lostElsewhere(jobName: string, tickMs: number, shard: number | null, shards: number | null, host: string): void {
    const job = this.opts.jobOf(jobName);
    if (!job || !this.tracks(job)) return;
    const hosts = this.hostTicks(job);
    const counted = hosts
      ? this.retried(job, tickMs, () => hosts.reportHost({ job: jobName, tickMs, host, ok: false, atMs: Date.now() })).then((s) => {
          if (!s.repeated) this.closeSoon(job, hosts, tickMs);
        })
      : this.count(job, { job: jobName, tickMs, shards: shards ?? 1, shard: shard ?? 0, ok: false, atMs: Date.now() });
    counted.catch((err: unknown) => this.opts.log.warn('could not count a lost run in the tick ledger', { job: jobName, tick: tickMs, shard, host, err }));
  }

  /**
   * A tick recorded here without a run (skipped by overlap, missed, claimed and
   * not started, paused): for a tracked job, that shard of the tick ended without
   * running, so the tick can end, neither ok nor failed, instead of waiting
   * for it. Only records that settle the shard: a claim whose outcome is
   * unknown (no fence) may have gone to another host, which may run it.
   * A mode=all host that does not run the tick never joined it: nothing to count.
   */
  recorded(record: RunRecord): void {
    // Missed and paused records come from the host that moved the cursor past the tick: once per shard.
    const settles = record.status === 'missed' || record.status === 'paused' || ((record.status === 'skipped' || record.status === 'lost') && record.fence !== null);
    const job = settles ? this.opts.jobOf(record.job) : undefined;
    if (!job || !this.tracks(job) || this.hostTicks(job)) return;
    this.count(job, { job: job.name, tickMs: record.tickMs, shards: record.shards ?? 1, shard: record.shard ?? 0, ok: false, skipped: true, atMs: record.endedMs ?? this.opts.now() })
      .then((s) => {
        if (s.endedNow) this.logEnded(job, record.tickMs, s.state);
      })
      .catch((err: unknown) => this.opts.log.warn('could not count a tick that did not run in the tick ledger', { job: job.name, tick: record.tickMs, shard: record.shard, err }));
  }

  /** Stops the pending closes of mode=all ticks (the daemon is stopping; a peer, or the join grace, ends them). */
  close(): void {
    for (const t of this.closeTimers) clearTimeout(t);
    this.closeTimers.clear();
  }

  private hostTicks(job: JobDefinition): HostTicks | null {
    return job.options.mode === 'all' ? (this.opts.ledger.hosts ?? null) : null;
  }

  private async reportHost(job: JobDefinition, hosts: HostTicks, end: ChainEnd): Promise<void> {
    const { log } = this.opts;
    const key = joinKey(end.job, end.tickMs);
    const joined = this.joins.get(key);
    this.joins.delete(key);
    // Not joined: a manual or failover run, or one the tick refused. It ran; the tick's result is the joined hosts'.
    // Its failure still pages, on its own, as the tick's alert will not name it.
    if (!joined || !(await joined)) {
      const run = ALERTING.has(end.status) && end.env !== null ? this.opts.runLog.getRun(end.runId) : undefined;
      if (run) this.opts.alertTickFailed(job, run, end.env!, { hosts: [this.opts.nodeId] });
      return;
    }
    try {
      const settlement = await this.retried(job, end.tickMs, () => hosts.reportHost({ job: end.job, tickMs: end.tickMs, host: this.opts.nodeId, ok: end.status === 'ok', atMs: end.endedMs }));
      if (settlement.repeated) return;
      if (settlement.failedNow && ALERTING.has(end.status) && end.env !== null) {
        const run = this.opts.runLog.getRun(end.runId);
        if (run) this.opts.alertTickFailed(job, run, end.env, { hosts: [...settlement.state.failed].sort() });
      }
      this.closeSoon(job, hosts, end.tickMs);
    } catch (err) {
      log.error('could not count the run in its tick ledger: the tick will not end, nor start its dependents', { job: job.name, tick: end.tickMs, host: this.opts.nodeId, err });
    }
  }

  /** Ends the mode=all tick now if it may end, or when the join grace is over. */
  private closeSoon(job: JobDefinition, hosts: HostTicks, tickMs: number): void {
    void this.retried(job, tickMs, () => hosts.close(job.name, tickMs, this.opts.eligibleHosts(job), this.opts.now()))
      .then((closed) => {
        if (closed.outcome === 'ended') {
          const { ok, failed } = closed.state;
          this.opts.log.info(failed.length === 0 ? 'tick ended ok' : 'tick ended failed', { job: job.name, tick: tickMs, hosts: ok.length + failed.length, ok: ok.length, failed: failed.length, failedHosts: failed });
        } else if (closed.outcome === 'wait') {
          const timer = setTimeout(() => {
            this.closeTimers.delete(timer);
            this.closeSoon(job, hosts, tickMs);
          }, Math.max(0, closed.atMs - this.opts.now()));
          this.closeTimers.add(timer);
        }
      })
      .catch((err: unknown) => this.opts.log.error('could not end the mode=all tick: another host\'s end, or its own join grace, may still', { job: job.name, tick: tickMs, err }));
  }

  private async report(job: JobDefinition, end: ChainEnd, ok: boolean): Promise<void> {
    const { log } = this.opts;
    try {
      const settlement = await this.count(job, { job: job.name, tickMs: end.tickMs, shards: end.shard?.count ?? 1, shard: end.shard?.index ?? 0, ok, atMs: end.endedMs });
      const { state } = settlement;
      if (settlement.endedNow) this.logEnded(job, end.tickMs, state);
      if (!settlement.failedNow || !ALERTING.has(end.status) || end.shard === null || end.env === null) return;
      const run = this.opts.runLog.getRun(end.runId);
      if (run) this.opts.alertTickFailed(job, run, end.env, { shards: [...state.failed].sort((a, b) => a - b) });
    } catch (err) {
      log.error('could not count the run in its tick ledger: the tick will not end, nor start its dependents', { job: job.name, tick: end.tickMs, shard: end.shard?.index, err });
    }
  }

  private logEnded(job: JobDefinition, tickMs: number, state: TickState): void {
    const how = state.failed.length > 0 ? 'failed' : state.skipped.length > 0 ? 'incomplete' : 'ok';
    this.opts.log.info(`tick ended ${how}`, { job: job.name, tick: tickMs, shards: state.shards, ok: state.ok.length, failed: state.failed.length, notRun: state.skipped.length });
  }

  private count(job: JobDefinition, report: Parameters<TickLedger['report']>[0]) {
    return this.retried(job, report.tickMs, () => this.opts.ledger.report(report));
  }

  /** Retried while the store fails: a report lost here would leave the tick open and its dependents waiting. */
  private async retried<T>(job: JobDefinition, tickMs: number, write: () => Promise<T>): Promise<T> {
    const max = this.opts.maxAttempts ?? 20;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (attempt >= max) throw err;
        if (attempt === 1) this.opts.log.warn('could not write the tick ledger; retrying', { job: job.name, tick: tickMs, err });
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  }
}

/** Runs that join a mode=all tick: its own, not a manual run or a rerun of another host's. */
const JOINING: ReadonlySet<RunRecord['trigger']> = new Set(['schedule', 'catchup', 'dependency']);

const joinKey = (job: string, tickMs: number): string => `${job}@${tickMs}`;
