import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './runlog/database.js';
import type { JobDefinition } from './crontab/types.js';
import type { ClaimOutcome, ClaimRequest, Coordinator } from './coordination/coordinator.js';
import { EmbeddedCoordinator } from './coordination/embedded.js';
import { claimWithRetry } from './coordination/claim-retry.js';
import { openDatabase } from './runlog/database.js';
import { RunLog } from './runlog/run-log.js';
import { DiskReserve } from './runlog/disk-reserve.js';
import { scheduleFor } from './schedule/index.js';
import type { Schedule } from './schedule/types.js';
import { TickScheduler, type DueTicks } from './scheduler/tick-scheduler.js';
import { systemClock, type Clock } from './scheduler/clock.js';
import { Executor } from './executor/executor.js';
import { JobGuard } from './executor/job-guard.js';
import { boundedWait } from './timing.js';
import { planDueTicks } from './jobs/due-plan.js';
import { FileJobSource } from './jobs/file-job-source.js';
import type { JobChanges, JobSource, LoadState } from './jobs/job-source.js';
import { ControlServer } from './control/server.js';
import { buildControlApi, toRunStartView } from './control/api.js';
import { claimSocket } from './control/socket-claim.js';
import type { DaemonPort } from './control/daemon-port.js';
import { databasePath, socketPath } from './paths.js';
import { UnknownJobError } from './errors.js';
import type { Logger } from './log.js';
import type { ClusterOptions, ClusterRuntime } from './cluster/cluster-runtime.js';
import type { MetricsServer } from './metrics/server.js';
import { reportEtcdError } from './metrics/etcd-errors.js';

/** Which host should claim a tick first: every host at once on a single host. */
export interface Placement {
  /** How long this host waits before claiming the tick; null when it may not run the job. */
  delayFor(job: JobDefinition, tickMs: number): number | null;
}

const SINGLE_HOST: Placement = { delayFor: () => 0 };

export interface DaemonOptions {
  /** The crontab; in cluster mode optional (a host without one follows the cluster's list). */
  crontab: string | null;
  cluster?: ClusterOptions;
  dataDir: string;
  nodeId: string;
  log: Logger;
  clock?: Clock;
  /** A tick started later than this while the daemon runs still counts as on time. */
  lateGraceMs?: number;
  /**
   * Ticks are claimed and recorded this long before they are due (default 0;
   * the CLI's is 100 ms), so the claim (an etcd round trip in a cluster) and
   * the bookkeeping of a burst of jobs are done when the tick comes, and the
   * job itself starts on time. A daemon that dies meanwhile leaves the tick
   * recorded.
   */
  claimLeadMs?: number;
  /** SIGTERM: how long running jobs may finish before on-lost applies. */
  drainGraceMs?: number;
  killGraceMs?: number;
  keepRunsPerJob?: number;
  maxLogBytes?: number;
  /** URL POSTed a JSON report when a job's last attempt fails (`--alert-webhook`). */
  alertWebhook?: string | null;
  /** Serve Prometheus metrics at http://host:port/metrics; off when absent. */
  metricsListen?: { host: string; port: number };
}

export type { LoadState } from './jobs/job-source.js';

/** Most missed ticks recorded one by one per batch; the rest get one summary record. */
const MAX_MISSED_RECORDS = 100;
const RETENTION_INTERVAL_MS = 10 * 60_000;
/** Longest wait for each etcd-bound step of stopping. */
const SHUTDOWN_STEP_MS = 5000;
/** While the data dir is full, how often room for the disk reserve is looked for. */
const SPACE_RECHECK_MS = 2000;
/** Cursor scopes, shared rather than allocated for each of 100,000 jobs at start-up. */
const PER_HOST = Object.freeze({ perHost: true });
const SHARED = Object.freeze({ perHost: false });
/** Jobs scheduled at once by applyJobs (cursor round trips to etcd in flight). */
const SCHEDULE_CONCURRENCY = 64;

export interface DaemonEvents {
  /** The job table changed (reload, the cluster's list). */
  'jobs-changed': [];
  'next-tick': [job: string, nextTickMs: number | null];
  /** Ticks that came due, that this node claimed, or that it recorded as missed (for metrics). */
  ticks: [outcome: 'due' | 'claimed' | 'missed', job: string, count: number];
}

/** Wires crontab, scheduler, coordinator, executor and control socket on one host. */
export class Daemon extends EventEmitter<DaemonEvents> implements DaemonPort {
  readonly jobs = new Map<string, JobDefinition>();
  readonly startedMs: number;
  readonly runLog: RunLog;
  readonly executor: Executor;

  private readonly clock: Clock;
  private readonly db: Db;
  private readonly coordinator: Coordinator;
  private readonly scheduler: TickScheduler;
  /**
   * The schedule a job's ticks follow, from its definition: scheduleFor
   * shares one per schedule and zone, so 100,000 jobs need no map of their own.
   */
  private readonly schedules = { get: (name: string): Schedule | undefined => this.scheduleOf(this.jobs.get(name)) };
  /** Per-job queue: claims for one job run in tick order. */
  private readonly jobQueues = new Map<string, Promise<void>>();
  private readonly control: ControlServer;
  private readonly jobSource: JobSource;
  private readonly placement: Placement;
  private readonly guard: JobGuard;
  private readonly reserve: DiskReserve;
  private spaceTimer: NodeJS.Timeout | null = null;
  private diskFullLogged = false;
  private retentionTimer: NodeJS.Timeout | null = null;
  private metricsServer: MetricsServer | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly opts: DaemonOptions,
    /** Null on a single host. */
    readonly cluster: ClusterRuntime | null,
  ) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.startedMs = this.clock.now();
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.db = openDatabase(databasePath(opts.dataDir));
    this.reserve = new DiskReserve(join(opts.dataDir, 'dcron.reserve'));
    if (!this.reserve.ensure()) opts.log.warn('no room for the disk reserve in the data dir: a full disk may cost a run record', { dataDir: opts.dataDir });
    this.runLog = new RunLog(this.db, this.reserve);
    this.coordinator = cluster?.coordinator ?? new EmbeddedCoordinator(this.db);
    this.jobSource = cluster?.jobSource ?? new FileJobSource(opts.crontab!, opts.log, () => this.clock.now());
    this.placement = cluster?.placement ?? SINGLE_HOST;
    this.guard = new JobGuard(opts.log);
    if (cluster) {
      this.guard.provenFor(cluster.lease.provenForMs());
      cluster.lease.on('proof', (ms) => this.guard.provenFor(ms));
    }
    this.executor = new Executor({ runLog: this.runLog, coordinator: this.coordinator, host: opts.nodeId, log: opts.log, killGraceMs: opts.killGraceMs, now: () => this.clock.now(), alertWebhook: opts.alertWebhook, guard: this.guard, mayStart: cluster ? () => cluster.lease.isProven() : undefined });
    this.scheduler = new TickScheduler({
      clock: this.clock,
      onDue: (d) => this.enqueue(d.key, () => this.handleDue(d)),
      leadMs: opts.claimLeadMs ?? 0,
      onNext: (job, due) => this.emit('next-tick', job, due),
    });
    this.control = new ControlServer(socketPath(opts.dataDir), buildControlApi(this), (err) => opts.log.error('control request failed', { err }));
    this.executor.on('chain-ended', ({ job, endedMs, busyFence }) => {
      if (busyFence !== null) void this.releaseBusy(job, busyFence);
      this.rearmDelayJob(job, endedMs);
    });
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    await claimSocket(socketPath(opts.dataDir));
    // Loaded only in cluster mode: the etcd client and gRPC cost a single host seconds at start.
    const cluster = opts.cluster ? await (await import('./cluster/cluster-runtime.js')).ClusterRuntime.connect(opts.cluster, opts.nodeId, opts.crontab, opts.log) : null;
    const daemon = new Daemon(opts, cluster);
    await daemon.boot();
    return daemon;
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  get crontabPath(): string | null {
    return this.opts.crontab;
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  now(): number {
    return this.clock.now();
  }

  nextTick(job: string): number | undefined {
    return this.scheduler.nextTick(job);
  }

  get lastLoad(): LoadState | null {
    return this.jobSource.lastLoad();
  }

  private async boot(): Promise<void> {
    const { log } = this.opts;
    for (const run of this.runLog.markInterruptedAsLost(this.opts.nodeId, this.startedMs)) {
      log.warn('run was interrupted by a daemon stop and is marked lost', { job: run.job, tick: run.tickMs, run: run.id });
    }
    await this.cluster?.attach({
      nodeId: this.opts.nodeId,
      startedMs: this.startedMs,
      executor: this.executor,
      runLog: this.runLog,
      log,
      job: (name) => this.jobs.get(name),
      runHere: async (name) => {
        const job = this.jobs.get(name);
        if (!job) throw new UnknownJobError(name);
        return toRunStartView(await this.runNow(job));
      },
    });
    if (this.opts.metricsListen) await this.serveMetrics(this.opts.metricsListen);
    const loadStartMs = performance.now();
    await this.jobSource.start((changes, phase) => this.applyJobs(changes, phase));
    // Read, parse and schedule: the start-up cost of a large crontab (bench/scale.ts).
    log.info('jobs loaded', { jobs: this.jobs.size, durationMs: Math.round(performance.now() - loadStartMs) });
    this.scheduler.start();
    await this.control.listen();
    this.applyRetention();
    this.retentionTimer = setInterval(() => this.applyRetention(), RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
    this.spaceTimer = setInterval(() => this.recheckSpace(), SPACE_RECHECK_MS);
    this.spaceTimer.unref();
    log.info('daemon started', { node: this.opts.nodeId, dataDir: this.opts.dataDir, pid: process.pid });
  }

  private async serveMetrics({ host, port }: { host: string; port: number }): Promise<void> {
    // Loaded only with --metrics: prom-client and what it pulls in cost a start-up without it ~0.1 s.
    const [{ collectDaemonMetrics }, { MetricsServer }] = await Promise.all([import('./metrics/collect.js'), import('./metrics/server.js')]);
    const { metrics } = collectDaemonMetrics(this);
    this.metricsServer = new MetricsServer(metrics.registry, this.opts.log);
    const address = await this.metricsServer.listen(host, port);
    this.opts.log.info('serving metrics', { url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics` });
  }

  /** Re-read the crontab and apply it. Never throws: a bad file keeps the old jobs. */
  async reload(reason: string): Promise<void> {
    await this.jobSource.reload(reason);
  }

  private async applyJobs(changes: JobChanges, phase: 'boot' | 'update'): Promise<void> {
    for (const name of changes.removed) {
      this.jobs.delete(name);
      this.scheduler.remove(name);
    }
    // After a small edit of a large table only the replaced entries are new objects: set just those.
    if (changes.replaced) for (const name of changes.replaced) this.jobs.set(name, changes.jobs.get(name)!);
    else for (const [name, job] of changes.jobs) this.jobs.set(name, job);
    // At boot every job, as given (no lookup per job among 100,000); on an update the few named ones, as now in the table.
    const bootJobs = phase === 'boot' ? [...changes.jobs.values()] : null;
    const names = bootJobs ? [] : [...changes.added, ...changes.rescheduled];
    const toSchedule = { length: bootJobs ? bootJobs.length : names.length, at: (i: number) => (bootJobs ? bootJobs[i] : this.jobs.get(names[i])!) };
    // Jobs are independent, so up to SCHEDULE_CONCURRENCY are scheduled at once: in a cluster each
    // reads and may write its etcd cursor, and 100,000 jobs one round trip at a time took minutes
    // (bench/scale.ts). One job's own calls stay in order, inside scheduleJob. The first error stops the rest.
    const scheduleAll = async () => {
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (!failed && next < toSchedule.length) {
          const job = toSchedule.at(next++);
          try {
            await this.scheduleJob(job, phase);
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(SCHEDULE_CONCURRENCY, toSchedule.length) }, worker));
    };
    // Many jobs at once (boot, a large edit): group the coordinator's cursor writes (one SQLite transaction on a single host).
    if (toSchedule.length > 1 && this.coordinator.batch) await this.coordinator.batch(scheduleAll);
    else await scheduleAll();
    this.emit('jobs-changed');
  }

  /** Run a job now, outside its schedule. */
  async runNow(job: JobDefinition) {
    const fence = await this.coordinator.nextFence(job.name);
    const tickMs = Math.floor(this.clock.now() / 1000) * 1000;
    return this.executor.submit({ job, tickMs, trigger: 'manual', fence, busyFence: null });
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const { log } = this.opts;
    log.info('daemon stopping: no new ticks; waiting for running jobs', { graceMs: this.opts.drainGraceMs ?? 30_000 });
    this.scheduler.stop();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.spaceTimer) clearInterval(this.spaceTimer);
    // Each step waits on etcd at worst; none may keep the daemon from stopping.
    const bounded = async (what: string, work: Promise<unknown>) => {
      if (!(await boundedWait(work, SHUTDOWN_STEP_MS))) log.warn(`stopping: gave up waiting for ${what}`, { waitedMs: SHUTDOWN_STEP_MS });
    };
    await bounded('the job source to close', this.jobSource.close());
    await this.executor.drain(this.opts.drainGraceMs ?? 30_000);
    await bounded('the spawn worker to close', this.executor.close());
    this.guard.close();
    await bounded('tick claims in flight', Promise.all(this.jobQueues.values()));
    await this.control.close();
    await this.metricsServer?.close();
    await bounded('the coordinator to close', this.coordinator.close());
    await bounded('the cluster connection to close', this.cluster?.close() ?? Promise.resolve());
    this.db.close();
    log.info('daemon stopped');
  }

  /**
   * Puts a job on the timer. At boot, a known job resumes from its cursor so
   * ticks missed while the daemon was down come due at once (then catch-up
   * or missed); a job with no cursor yet starts where the coordinator says
   * (now on one host; in a cluster, when the job was published).
   */
  private async scheduleJob(job: JobDefinition, why: 'boot' | 'update'): Promise<void> {
    const now = this.clock.now();
    const spec = job.schedule;
    if (spec.kind === 'reboot') {
      if (why === 'boot') {
        this.emit('ticks', 'due', job.name, 1);
        this.enqueue(job.name, () => this.claimAndSubmit(job, Math.floor(this.startedMs / 1000) * 1000, 'schedule'));
      }
      return;
    }
    if (spec.kind === 'delay') {
      if (!this.executor.isRunning(job.name)) this.scheduler.at(job.name, secondCeil(now + spec.delayMs));
      return;
    }
    const schedule = scheduleFor(spec, job.tz);
    if (!schedule) return;
    const scope = job.options.mode === 'all' ? PER_HOST : SHARED;
    const cursor = await this.coordinator.cursor(job.name, scope);
    const from = cursor === null ? await this.coordinator.startCursor(job.name, now, scope) : why === 'boot' ? cursor : Math.max(cursor, now);
    this.scheduler.add(job.name, schedule, from);
  }

  /**
   * Retried until etcd answers: a mark left behind while etcd was unreachable
   * lives as long as this node's lease, and would skip every later tick of
   * the job cluster-wide. The release compares the mark's revision, so a
   * retry never drops a newer run's mark.
   */
  private async releaseBusy(job: string, fence: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.coordinator.releaseBusy(job, fence);
        return;
      } catch (err) {
        if (this.stopping) return;
        if (attempt === 0) this.opts.log.warn('could not release busy mark; retrying until etcd answers', { job, err });
        await sleep(Math.min(100 * 2 ** attempt, 1000));
      }
    }
  }

  private scheduleOf(job: JobDefinition | undefined): Schedule | undefined {
    return job ? (scheduleFor(job.schedule, job.tz) ?? undefined) : undefined;
  }

  private rearmDelayJob(name: string, endedMs: number): void {
    const job = this.jobs.get(name);
    if (job?.schedule.kind === 'delay' && !this.stopping) this.scheduler.at(name, secondCeil(endedMs + job.schedule.delayMs));
  }

  private enqueue(job: string, work: () => Promise<void>): void {
    const previous = this.jobQueues.get(job) ?? Promise.resolve();
    const next = previous.then(work).catch((err: unknown) => this.opts.log.error('tick handling failed', { job, err }));
    this.jobQueues.set(job, next);
    void next.then(() => {
      if (this.jobQueues.get(job) === next) this.jobQueues.delete(job);
    });
  }

  private async handleDue(due: DueTicks): Promise<void> {
    const job = this.jobs.get(due.key);
    if (!job || this.stopping) return;
    this.emit('ticks', 'due', job.name, due.ticks.length);
    const plan = planDueTicks({
      ticks: due.ticks,
      overflowUntil: due.overflowUntil,
      nowMs: this.clock.now(),
      // In a cluster, a tick from before this node started may be in another node's hands right now:
      // only ticks past the late grace are missed, and the cursor decides.
      daemonStartMs: this.cluster ? Number.NEGATIVE_INFINITY : this.startedMs,
      catchupMs: job.options.catchupMs,
      lateGraceMs: this.opts.lateGraceMs ?? 5000,
      schedule: this.schedules.get(job.name) ?? null,
    });
    await this.recordMissed(job, plan.missed, plan.unlisted);
    for (const r of plan.run) await this.claimAndSubmit(job, r.tickMs, r.trigger);
  }

  private async recordMissed(job: JobDefinition, missed: number[], unlisted: { afterMs: number; untilMs: number } | null): Promise<void> {
    if (missed.length === 0) return;
    // Only the host that moves the cursor past the missed ticks records them, so each is recorded once.
    // A move whose reply was lost may have committed, leaving the ticks behind the cursor where no
    // later claim would record them: recorded here then, at worst twice rather than not at all.
    let why = `the tick passed while no daemon was running it, ${job.options.catchupMs > 0 ? 'outside its catchup window' : 'and the job has no catchup window'}`;
    try {
      const moved = await this.coordinator.advanceCursor(job.name, Math.max(missed[missed.length - 1], unlisted?.untilMs ?? 0), { perHost: job.options.mode === 'all' });
      if (!moved) return;
    } catch (err) {
      if (this.cluster) reportEtcdError('claim');
      this.opts.log.warn('could not move the cursor past missed ticks; recording them here', { job: job.name, err });
      why += ` (whether another node recorded it too is unknown: ${(err as Error).message})`;
    }
    this.emit('ticks', 'missed', job.name, missed.length);
    // A daemon down for days must not write a million records: the newest are
    // recorded one by one, the older ones in one summary record.
    const listed = missed.slice(-MAX_MISSED_RECORDS);
    const older = missed.length - listed.length;
    if (older > 0 || unlisted) {
      const until = unlisted ? unlisted.untilMs : listed[0];
      this.executor.recordMissed(job, missed[0], `${why}; so were ${older > 0 ? older - 1 : 'all'} further ticks before ${new Date(until).toISOString()}, not recorded one by one`);
    }
    for (const tick of older > 0 ? listed : missed) this.executor.recordMissed(job, tick, why);
  }

  private async claimAndSubmit(job: JobDefinition, tickMs: number, trigger: 'schedule' | 'catchup'): Promise<void> {
    // A node that cannot record a run leaves the tick to its peers; a single host has nobody to leave it to.
    if (this.cluster && !this.runLog.writable) {
      this.opts.log.debug('tick not claimed: the run log is full', { job: job.name, tick: tickMs });
      return;
    }
    const delay = this.placement.delayFor(job, tickMs);
    if (delay === null) return;
    // A node ranked before this one usually claims within milliseconds: seeing that ends the wait at
    // once, sparing a claim certain to fail and freeing this job's queue for its next tick. The
    // wait counts from the tick: the first-ranked node claims ahead of it (claim lead).
    const wait = delay + Math.max(0, tickMs - this.clock.now());
    if (delay > 0 && (this.coordinator.takenElsewhere ? await this.coordinator.takenElsewhere(job.name, tickMs, wait) : await sleep(wait).then(() => false))) {
      this.opts.log.debug('tick not claimed: taken', { job: job.name, tick: tickMs });
      return;
    }
    // A run of this job still going here may end before the tick: overlap decides at the tick, not before.
    if (tickMs > this.clock.now() && job.options.overlap !== 'allow' && this.executor.isRunning(job.name)) await this.untilTick(tickMs);
    const perHost = job.options.mode === 'all';
    // A busy mark is one per job cluster-wide; mode=all jobs keep overlap per host, in the executor.
    const holdBusy = job.options.overlap === 'skip' && !perHost;
    let claim: ClaimOutcome;
    try {
      const request = { job: job.name, tickMs, holdBusy, perHost };
      claim = await this.claimWithRetry({ ...request, early: tickMs > this.clock.now() });
      // The job is busy now, but its run may end before the tick: claimed (or skipped) at the tick.
      if (claim.outcome === 'notYet') {
        await this.untilTick(tickMs);
        claim = await this.claimWithRetry(request);
      }
    } catch (err) {
      // The last attempt may have committed with its reply lost: the tick may be this node's and
      // nobody else's, so it is recorded here rather than left without a trace.
      this.executor.recordLost({ job, tickMs, trigger, fence: null }, `the claim's outcome is unknown (${(err as Error).message}); if it committed, this tick did not run`);
      throw err;
    }
    switch (claim.outcome) {
      case 'claimed':
        this.emit('ticks', 'claimed', job.name, 1);
        // A claim answered after the lease lost its proof: the job's guard and on-lost may already
        // have acted, and the busy mark may die with the lease while the job ran on. Not started.
        const unsafe = this.cluster && !this.cluster.lease.isProven() ? 'this node could not prove its etcd lease when the claim was answered' : claim.busyMarkGone ? 'its overlap=skip busy mark went with an etcd lease replaced while the claim was in flight, so the job may be running elsewhere' : null;
        if (unsafe) {
          this.executor.recordLost({ job, tickMs, trigger, fence: claim.fence }, `claimed, but ${unsafe}; not started`);
          if (claim.previousTickMs != null) this.recordUnclaimed(job, claim.previousTickMs, tickMs);
          return;
        }
        // Claimed ahead of the tick (claim lead): recorded now, started at the tick.
        this.executor.submit({ job, tickMs, trigger, fence: claim.fence, busyFence: holdBusy ? claim.fence : null, startAtMs: tickMs });
        if (claim.previousTickMs != null) this.recordUnclaimed(job, claim.previousTickMs, tickMs);
        return;
      case 'busy':
        this.executor.recordSkipped({ job, tickMs, trigger, fence: claim.fence }, `overlap=skip: the job is running on ${claim.holder}`);
        if (claim.previousTickMs != null) this.recordUnclaimed(job, claim.previousTickMs, tickMs);
        return;
      default:
        this.opts.log.debug(`tick not claimed: ${claim.outcome}`, { job: job.name, tick: tickMs });
    }
  }

  /** A claim made ahead of its tick (claim lead) that must be made at the tick instead. */
  private untilTick(tickMs: number): Promise<void> {
    return sleep(tickMs - this.clock.now());
  }

  /** Ticks strictly between where the cursor stood and the tick just claimed: nobody claimed them in time. */
  private recordUnclaimed(job: JobDefinition, fromMs: number, toMs: number): void {
    const schedule = this.schedules.get(job.name);
    if (!schedule) return;
    const gap: number[] = [];
    for (let t = schedule.next(fromMs); t !== null && t < toMs && gap.length < MAX_MISSED_RECORDS; t = schedule.next(t)) gap.push(t);
    for (const t of gap) this.executor.recordMissed(job, t, 'no node claimed this tick in time (leases unproven or etcd unreachable)');
    if (gap.length > 0) this.emit('ticks', 'missed', job.name, gap.length);
    if (gap.length > 0) this.opts.log.warn('ticks passed unclaimed by any node; recorded as missed', { job: job.name, count: gap.length, from: gap[0], to: gap[gap.length - 1] });
  }

  private claimWithRetry(request: ClaimRequest): Promise<ClaimOutcome> {
    return claimWithRetry(request, {
      claim: (r) => this.coordinator.claim(r),
      clock: this.clock,
      lateGraceMs: this.opts.lateGraceMs ?? 5000,
      sleep,
      onError: (err, attempt, retrying) => {
        if (this.cluster) reportEtcdError('claim');
        if (retrying) this.opts.log.warn('claim failed; retrying while the tick is on time', { job: request.job, tick: request.tickMs, attempt, err });
      },
    });
  }

  private recheckSpace(): void {
    if (this.runLog.writable) return;
    if (!this.diskFullLogged) this.opts.log.error('the data dir is full: run records cannot be written; this node claims no ticks until there is room', { dataDir: this.opts.dataDir });
    this.diskFullLogged = true;
    if (this.runLog.recheckSpace()) {
      this.diskFullLogged = false;
      this.opts.log.warn('the data dir has room again: claiming resumes', { dataDir: this.opts.dataDir });
    }
  }

  private applyRetention(): void {
    try {
      const r = this.runLog.applyRetention({ keepRunsPerJob: this.opts.keepRunsPerJob ?? 1000, maxOutputBytes: this.opts.maxLogBytes ?? 1024 ** 3 });
      if (r.deletedRuns > 0) this.opts.log.info('run log retention', { ...r });
    } catch (err) {
      this.opts.log.error('run log retention failed', { err });
    }
  }
}

const secondCeil = (ms: number): number => Math.ceil(ms / 1000) * 1000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
