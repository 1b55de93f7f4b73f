import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './runlog/database.js';
import type { JobDefinition } from './crontab/types.js';
import type { Coordinator } from './coordination/coordinator.js';
import { openDatabase } from './runlog/database.js';
import { RunLog } from './runlog/run-log.js';
import { RunRecorder } from './runlog/run-recorder.js';
import { DiskReserve } from './runlog/disk-reserve.js';
import { scheduleFor } from './schedule/index.js';
import type { Schedule } from './schedule/types.js';
import { TickScheduler } from './scheduler/tick-scheduler.js';
import { systemClock, type Clock } from './scheduler/clock.js';
import { Executor } from './executor/executor.js';
import { JobGuard } from './executor/job-guard.js';
import { boundedWait } from './timing.js';
import type { JobChanges, JobSource, LoadState } from './jobs/job-source.js';
import { singleHostMode, type HostMode } from './host-mode.js';
import { TickPipeline, type TickOutcome } from './ticks/tick-pipeline.js';
import { TickSettler } from './ticks/tick-settler.js';
import { HostCapacity } from './ticks/host-capacity.js';
import { HostFigureSampler, type HostFigures } from './ticks/host-figures.js';
import { DependencyTrigger, isDependent } from './ticks/dependencies.js';
import { Backfiller } from './ticks/backfiller.js';
import { leastCursor } from './ticks/shards.js';
import { ControlServer } from './control/server.js';
import { buildControlApi } from './control/api.js';
import { toRunStartView } from './control/local-queries.js';
import { claimSocket } from './control/socket-claim.js';
import type { DaemonPort } from './control/daemon-port.js';
import type { GroupView } from './control/api-types.js';
import { permitFor } from './coordination/group-slots.js';
import { unmetRequirement } from './ticks/host-requirements.js';
import { pausedJobs, type JobPauses } from './jobs/job-pauses.js';
import { databasePath, socketPath } from './paths.js';
import { UnknownJobError } from './errors.js';
import type { Logger } from './log.js';
import type { ClusterOptions, ClusterRuntime } from './cluster/cluster-runtime.js';
import type { MetricsServer } from './metrics/server.js';
import { withDaemonDefaults, type DaemonSettings } from './config/daemon-config.js';

export type { Placement } from './ticks/placement.js';

export interface DaemonOptions {
  /** The crontab; in cluster mode optional (a host without one follows the cluster's list). */
  crontab: string | null;
  cluster?: ClusterOptions;
  dataDir: string;
  nodeId: string;
  log: Logger;
  clock?: Clock;
  /** Numeric settings (grace periods, claim lead, retention); each missing one takes its default from config/daemon-config.ts. */
  settings?: Partial<DaemonSettings>;
  /** Concurrency groups' limits (`--group NAME=K`): at most K runs of the jobs with `group=NAME` at once, cluster-wide. */
  groups?: Readonly<Record<string, number>>;
  /** URL POSTed a JSON report when a job's last attempt fails (`--alert-webhook`). */
  alertWebhook?: string | null;
  /** Serve Prometheus metrics at http://host:port/metrics; off when absent. */
  metricsListen?: { host: string; port: number };
}

export type { LoadState } from './jobs/job-source.js';

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
  ticks: [outcome: TickOutcome, job: string, count: number];
}

/**
 * Wires the parts on one host (job source, scheduler, tick pipeline,
 * executor, control socket) and owns boot, reload and shutdown. What
 * becomes of a tick is decided in ticks/tick-pipeline.ts.
 */
export class Daemon extends EventEmitter<DaemonEvents> implements DaemonPort {
  readonly jobs = new Map<string, JobDefinition>();
  readonly startedMs: number;
  readonly runLog: RunLog;
  /** Records of ticks that did not run (missed, skipped, lost). */
  readonly recorder: RunRecorder;
  readonly executor: Executor;
  /** Operators' pauses, kept apart from the job table: a reload never unpauses. */
  readonly pauses: JobPauses;
  /** `--group NAME=K` as given. */
  readonly groups: Readonly<Record<string, number>>;
  /** This host's slots (`--slots`), taken by the runs here. */
  readonly capacity: HostCapacity;
  /** This host's free memory, load and free disk of the data dir, as `requires=` compares them; sampled at most once a second. */
  readonly figures: HostFigureSampler;

  private readonly clock: Clock;
  private readonly db: Db;
  private readonly coordinator: Coordinator;
  private readonly scheduler: TickScheduler;
  private readonly control: ControlServer;
  private readonly mode: HostMode;
  private readonly jobSource: JobSource;
  private readonly pipeline: TickPipeline;
  private readonly settler: TickSettler;
  private readonly dependencies: DependencyTrigger;
  /** `dcron backfill` and `dcron run --tick`: past ticks, claimed once cluster-wide. */
  readonly backfill: Backfiller;
  private readonly guard: JobGuard;
  private readonly reserve: DiskReserve;
  private spaceTimer: NodeJS.Timeout | null = null;
  private diskFullLogged = false;
  private retentionTimer: NodeJS.Timeout | null = null;
  private metricsServer: MetricsServer | null = null;
  private stopping: Promise<void> | null = null;
  private readonly settings: DaemonSettings;

  private constructor(
    private readonly opts: DaemonOptions,
    /** Null on a single host. */
    readonly cluster: ClusterRuntime | null,
  ) {
    super();
    this.settings = withDaemonDefaults(opts.settings ?? {});
    this.groups = opts.groups ?? {};
    this.clock = opts.clock ?? systemClock;
    this.startedMs = this.clock.now();
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.db = openDatabase(databasePath(opts.dataDir));
    this.reserve = new DiskReserve(join(opts.dataDir, 'dcron.reserve'));
    if (!this.reserve.ensure()) opts.log.warn('no room for the disk reserve in the data dir: a full disk may cost a run record', { dataDir: opts.dataDir });
    this.runLog = new RunLog(this.db, this.reserve);
    const now = () => this.clock.now();
    this.recorder = new RunRecorder({ runLog: this.runLog, host: opts.nodeId, log: opts.log, now });
    this.mode = cluster ?? singleHostMode(this.db, opts.crontab!, opts.log, now, opts.nodeId);
    this.coordinator = this.mode.coordinator;
    this.pauses = this.mode.pauses;
    // The job list's views show the pause: the TUI hears it like a reload.
    this.pauses.on('changed', () => this.emit('jobs-changed'));
    this.jobSource = this.mode.jobSource;
    this.guard = new JobGuard(opts.log);
    this.mode.bindGuard(this.guard);
    this.executor = new Executor({
      runLog: this.runLog,
      recorder: this.recorder,
      coordinator: this.coordinator,
      host: opts.nodeId,
      log: opts.log,
      killGraceMs: this.settings.killGraceMs,
      now,
      alertWebhook: opts.alertWebhook,
      guard: this.guard,
      mayStart: () => this.coordinator.mayAct(),
      moveRetry: this.mode.moveRetry,
      alertsPerTick: (job) => this.settler.alertsPerTick(job),
    });
    this.capacity = new HostCapacity(this.settings.slots, () => this.executor.slotsInUse());
    this.figures = new HostFigureSampler(opts.dataDir);
    this.pipeline = new TickPipeline({
      coordinator: this.coordinator,
      placement: this.mode.placement,
      recorder: this.recorder,
      runner: this.executor,
      clock: this.clock,
      log: opts.log,
      lateGraceMs: this.settings.lateGraceMs,
      startedMs: this.startedMs,
      sharesTicks: this.mode.sharesTicks,
      canRecord: () => this.runLog.writable,
      jobOf: (name) => this.jobs.get(name),
      scheduleOf: (job) => this.scheduleOf(job),
      pauseOf: (job) => this.pauses.get(job),
      capacity: this.capacity,
      groups: this.mode.groupSlots,
      groupLimit: (group) => this.groupLimit(group),
      // Sampled only for a job that asks: /proc/meminfo and statfs are not read on every tick.
      unmetRequirement: (job) => (job.options.requires === null ? null : unmetRequirement(job.options.requires, this.figures.sample())),
      onTicks: (outcome, job, count) => this.emit('ticks', outcome, job, count),
      onStoreError: () => this.mode.storeError(),
    });
    this.scheduler = new TickScheduler({
      clock: this.clock,
      onDue: (due) => this.pipeline.due(due),
      leadMs: this.settings.claimLeadMs,
      onNext: (job, due) => this.emit('next-tick', job, due),
    });
    this.dependencies = new DependencyTrigger({
      ledger: this.mode.ledger,
      coordinator: this.coordinator,
      jobOf: (name) => this.jobs.get(name),
      due: (job, tickMs, dueMs) => this.pipeline.dependencyDue(job, tickMs, dueMs),
      now,
      log: opts.log,
    });
    this.settler = new TickSettler({
      ledger: this.mode.ledger,
      runLog: this.runLog,
      log: opts.log,
      jobOf: (name) => this.jobs.get(name),
      hasDependents: (job) => this.dependencies.hasDependents(job),
      alertTickFailed: (job, run, env, failed) => this.executor.alertTickFailed(job, run, env, failed),
      nodeId: opts.nodeId,
      eligibleHosts: (job) => this.mode.placement.eligible(job, opts.nodeId),
      now,
    });
    this.backfill = new Backfiller({
      claims: this.mode.backfillClaims,
      coordinator: this.coordinator,
      runner: this.executor,
      scheduleOf: (job) => this.scheduleOf(job),
      recordsOfTick: async (job, tickMs) => {
        const local = this.runLog.runsOfTick(job, tickMs);
        // In a cluster a tick may have run elsewhere: the summaries in etcd tell, but only the newest 20-40 per job.
        const elsewhere = cluster ? (await cluster.summaries(job)).filter((s) => s.tickMs === tickMs).map((s) => ({ ...s, pid: null })) : [];
        return [...local, ...elsewhere];
      },
      eligibleHere: (job) => this.mode.placement.eligibleHere(job),
      now,
    });
    this.control = new ControlServer(socketPath(opts.dataDir), buildControlApi(this), (err) => opts.log.error('control request failed', { err }));
    this.executor.on('run-started', (run) => this.settler.runStarted(run));
    this.recorder.on('run-recorded', (record) => this.settler.recorded(record));
    this.executor.on('chain-ended', (end) => {
      if (end.busyFence !== null) void this.pipeline.releaseBusy(end.unit, end.busyFence);
      this.capacity.runEnded();
      // A retry that moved to another host goes on there: the tick ends (and @delay counts) where its last attempt does.
      if (end.movedTo !== null) return;
      this.settler.chainEnded(end);
      this.rearmDelayJob(end.job, end.endedMs);
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

  slotUse(): { used: number; total: number } {
    return { used: this.capacity.used(), total: this.capacity.total };
  }

  groupUse(): GroupView[] {
    const jobs = new Map<string, number>();
    for (const job of this.jobs.values()) if (job.options.group !== null) jobs.set(job.options.group, (jobs.get(job.options.group) ?? 0) + 1);
    const names = [...new Set([...Object.keys(this.groups), ...jobs.keys()])].sort();
    return names.map((name) => ({ name, limit: this.groupLimit(name) ?? null, inUse: this.mode.groupSlots.inUse(name), jobs: jobs.get(name) ?? 0 }));
  }

  hostFigures(): HostFigures {
    return this.figures.sample();
  }

  pausedCount(): number {
    return pausedJobs(this.pauses.all(), (job) => this.jobs.has(job), this.clock.now()).length;
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
    // Before attach: failover reruns take group permits.
    await this.mode.groupSlots.start();
    await this.mode.attach({
      nodeId: this.opts.nodeId,
      startedMs: this.startedMs,
      executor: this.executor,
      recorder: this.recorder,
      runLog: this.runLog,
      log,
      job: (name) => this.jobs.get(name),
      runHere: async (name) => {
        const job = this.jobs.get(name);
        if (!job) throw new UnknownJobError(name);
        return toRunStartView(await this.runNow(job));
      },
      lostElsewhere: (job, tickMs, shard, shards, host) => this.settler.lostElsewhere(job, tickMs, shard, shards, host),
      tracksTicks: (job) => this.settler.tracks(job),
      slots: () => this.slotUse(),
      holdSlots: (job) => this.capacity.hold(job.options.slots),
      groupPermit: (job, unit, tickMs) => permitFor(this.mode.groupSlots, (g) => this.groupLimit(g), job.options.group, { unit, tickMs }),
      figures: () => this.hostFigures(),
    });
    await this.mode.ledger.start();
    // Before the jobs: ticks due at boot (catch-up) must already see their pauses.
    await this.pauses.start();
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
    if (toSchedule.length > 1) await this.coordinator.batch(scheduleAll);
    else await scheduleAll();
    // Dependent jobs come due from their parents' ticks, not the timer: which follow which, and any due now.
    this.dependencies.update(this.jobs.values());
    this.warnGroupsWithoutLimit(bootJobs ?? names.map((n) => this.jobs.get(n)!));
    this.emit('jobs-changed');
  }

  /** A job whose group has no limit here never runs here: said once per job and group, at load. */
  private warnGroupsWithoutLimit(jobs: Iterable<JobDefinition>): void {
    for (const job of jobs) {
      const group = job.options.group;
      if (group === null || this.groupLimit(group) !== undefined) continue;
      this.opts.log.warn(`job's group has no limit on this host: its ticks are left to hosts started with --group ${group}=K, or recorded skipped`, { job: job.name, group, file: job.source.file, line: job.source.line });
    }
  }

  /** This daemon's `--group NAME=K` for the group; undefined when not given. */
  groupLimit(group: string): number | undefined {
    return Object.hasOwn(this.groups, group) ? this.groups[group] : undefined;
  }

  /** Run a job now, outside its schedule. */
  runNow(job: JobDefinition) {
    return this.pipeline.runNow(job);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const { log } = this.opts;
    log.info('daemon stopping: no new ticks; waiting for running jobs', { graceMs: this.settings.drainGraceMs });
    this.scheduler.stop();
    this.dependencies.stop();
    this.pipeline.stop();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.spaceTimer) clearInterval(this.spaceTimer);
    // Each step waits on etcd at worst; none may keep the daemon from stopping.
    const bounded = async (what: string, work: Promise<unknown>) => {
      if (!(await boundedWait(work, SHUTDOWN_STEP_MS))) log.warn(`stopping: gave up waiting for ${what}`, { waitedMs: SHUTDOWN_STEP_MS });
    };
    await bounded('the job source to close', this.jobSource.close());
    await this.executor.drain(this.settings.drainGraceMs);
    await bounded('the spawn worker to close', this.executor.close());
    this.guard.close();
    await bounded('tick claims in flight', this.pipeline.settled());
    await this.control.close();
    await this.metricsServer?.close();
    await bounded('the coordinator to close', this.coordinator.close());
    this.settler.close();
    await bounded('the tick ledger to close', this.mode.ledger.close());
    await bounded('the pauses to close', this.pauses.close());
    await bounded('the group permits to close', this.mode.groupSlots.close());
    await bounded('the cluster connection to close', this.mode.close());
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
    // Its schedule is ignored: it runs after its parents (ticks/dependencies.ts).
    if (isDependent(job)) {
      this.scheduler.remove(job.name);
      return;
    }
    if (spec.kind === 'reboot') {
      if (why === 'boot') this.pipeline.reboot(job);
      return;
    }
    if (spec.kind === 'delay') {
      if (!this.executor.isRunning(job.name)) this.scheduler.at(job.name, secondCeil(now + spec.delayMs));
      return;
    }
    const schedule = scheduleFor(spec, job.tz);
    if (!schedule) return;
    const scope = job.options.mode === 'all' ? PER_HOST : SHARED;
    // A sharded job resumes from its least advanced shard: ticks it missed come due, and the shards past them find their claims taken.
    const cursor = job.options.shards > 1 ? (await leastCursor(this.coordinator, job, now)).cursorMs : await this.coordinator.cursor(job.name, scope);
    const from = cursor === null ? await this.coordinator.startCursor(job.name, now, scope) : why === 'boot' ? cursor : Math.max(cursor, now);
    this.scheduler.add(job.name, schedule, from);
  }

  /** scheduleFor shares one schedule per expression and zone, so 100,000 jobs need no map of their own. */
  private scheduleOf(job: JobDefinition): Schedule | null {
    return scheduleFor(job.schedule, job.tz);
  }

  private rearmDelayJob(name: string, endedMs: number): void {
    const job = this.jobs.get(name);
    if (job?.schedule.kind === 'delay' && !this.stopping) this.scheduler.at(name, secondCeil(endedMs + job.schedule.delayMs));
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
      const r = this.runLog.applyRetention({ keepRunsPerJob: this.settings.keepRunsPerJob, maxOutputBytes: this.settings.maxLogBytes });
      if (r.deletedRuns > 0) this.opts.log.info('run log retention', { ...r });
    } catch (err) {
      this.opts.log.error('run log retention failed', { err });
    }
  }
}

const secondCeil = (ms: number): number => Math.ceil(ms / 1000) * 1000;
