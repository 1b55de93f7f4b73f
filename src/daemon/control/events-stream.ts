import type { Daemon } from '../daemon.js';
import type { RunRecord } from '../runlog/types.js';
import type { DaemonEvent } from '../../tui/model.js';
import { DcronError } from '../errors.js';
import type { ControlApi, StreamHandler } from './server.js';
import type { JobView, NodeView, StatusView } from './api-types.js';

/**
 * Queued events go out at most this often: a burst (every job ticking in
 * the same second) becomes a few messages, and an event still reaches the
 * TUI well within 100 ms.
 */
const FLUSH_MS = 30;
/** More next-tick changes than this in one flush go out as one `jobs` list instead. */
const MAX_NEXT_PER_FLUSH = 500;
const RECENT_IN_SNAPSHOT = 300;
const NODES_EVERY_MS = 1000;
const STATUS_EVERY_MS = 3000;
/** How far a subscriber may fall behind in unread bytes, on top of the largest full list sent to it. */
const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

/** The subscriber read too slowly; it can subscribe again for a fresh snapshot. */
export class SubscriberTooSlowError extends DcronError {}

/** What a subscription shows, as the control API answers it (cluster-wide in cluster mode). */
interface Views {
  status(): StatusView;
  jobs(): Promise<JobView[]>;
  nodes(): Promise<NodeView[]>;
  recent(): Promise<RunRecord[]>;
  running(): Promise<RunRecord[]>;
}

/**
 * The `events` stream: a snapshot, then what changes. Built from the final
 * unary table so `ls`, `history` and `nodes` mean here what they mean to the CLI.
 */
export function eventsStream(daemon: Daemon, unary: ControlApi['unary']): StreamHandler {
  const views: Views = {
    status: () => unary.status({}) as StatusView,
    jobs: async () => (await unary.ls({})) as JobView[],
    nodes: async () => (await unary.nodes({})) as NodeView[],
    recent: async () => (await unary.history({ limit: RECENT_IN_SNAPSHOT })) as RunRecord[],
    running: () => runningRuns(daemon),
  };
  return (_params, send, closed, backlogBytes) => new Subscription(daemon, views, send, backlogBytes).run(closed);
}

/** Runs in flight here, and in cluster mode everywhere; this host's own records win (they carry the pid). */
async function runningRuns(daemon: Daemon): Promise<RunRecord[]> {
  const local = daemon.runLog.runningRuns();
  if (!daemon.cluster) return local;
  const byId = new Map(local.map((r) => [r.id, r]));
  for (const runs of (await daemon.cluster.runningEverywhere()).values()) {
    for (const s of runs) if (!byId.has(s.id)) byId.set(s.id, { ...s, pid: null });
  }
  return [...byId.values()].sort((a, b) => a.startedMs - b.startedMs || (a.id < b.id ? -1 : 1));
}

/**
 * One subscriber. Daemon events only fill queues (a run by id keeps its
 * latest record, a job its latest next tick), so the daemon never waits on
 * a client; a timer sends the queues.
 */
class Subscription {
  private runs = new Map<string, RunRecord>();
  private nexts = new Map<string, number | null>();
  private jobsChanged = false;
  private live = false;
  private flushing = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private lastFlushMs = 0;
  private allowance = MAX_BACKLOG_BYTES;
  private failure: Error | null = null;
  private finish: () => void = () => {};

  constructor(
    private readonly daemon: Daemon,
    private readonly views: Views,
    private readonly write: (event: unknown) => void,
    private readonly backlogBytes: () => number,
  ) {}

  async run(closed: AbortSignal): Promise<void> {
    if (closed.aborted) return;
    const ended = new Promise<void>((resolve) => (this.finish = resolve));
    const onClosed = () => this.finish();
    closed.addEventListener('abort', onClosed);
    const detach = this.attach();
    try {
      await this.sendSnapshot();
      this.live = true;
      this.schedule();
      await ended;
    } finally {
      this.live = false;
      detach();
      closed.removeEventListener('abort', onClosed);
      if (this.flushTimer) clearTimeout(this.flushTimer);
    }
    if (this.failure) throw this.failure;
  }

  /** Subscribes to the daemon; returns the undo. Events before the snapshot wait in the queues. */
  private attach(): () => void {
    const { daemon } = this;
    const onRun = (run: RunRecord) => {
      this.runs.set(run.id, run);
      this.schedule();
    };
    const onJobs = () => {
      this.jobsChanged = true;
      this.schedule();
    };
    const onNext = (job: string, nextTickMs: number | null) => {
      this.nexts.set(job, nextTickMs);
      this.schedule();
    };
    const timers = [setInterval(() => this.sendStatus(), STATUS_EVERY_MS)];
    if (daemon.cluster) timers.push(setInterval(() => void this.sendNodes().catch((err: Error) => this.fail(err)), NODES_EVERY_MS));
    daemon.executor.on('run-started', onRun).on('run-finished', onRun);
    daemon.recorder.on('run-recorded', onRun);
    daemon.cluster?.runs.on('run', onRun);
    daemon.on('jobs-changed', onJobs).on('next-tick', onNext);
    return () => {
      for (const t of timers) clearInterval(t);
      daemon.executor.off('run-started', onRun).off('run-finished', onRun);
      daemon.recorder.off('run-recorded', onRun);
      daemon.cluster?.runs.off('run', onRun);
      daemon.off('jobs-changed', onJobs).off('next-tick', onNext);
    };
  }

  private async sendSnapshot(): Promise<void> {
    // The lists read below already hold these changes; queued runs stay, as a run applied twice is the same run.
    this.jobsChanged = false;
    this.nexts.clear();
    const [jobs, running, recent, nodes] = await Promise.all([this.views.jobs(), this.views.running(), this.views.recent(), this.views.nodes()]);
    this.send({ type: 'snapshot', status: this.views.status(), jobs, running, recent, nodes }, true);
  }

  private schedule(): void {
    if (!this.live || this.flushing || this.flushTimer) return;
    if (this.runs.size === 0 && this.nexts.size === 0 && !this.jobsChanged) return;
    // A lone event goes out at once; the ones right behind it wait for the next flush.
    const delay = Math.max(0, this.lastFlushMs + FLUSH_MS - Date.now());
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, delay);
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    this.lastFlushMs = Date.now();
    const runs = this.runs;
    const nexts = this.nexts;
    const fullList = this.jobsChanged || nexts.size > MAX_NEXT_PER_FLUSH;
    this.runs = new Map();
    this.nexts = new Map();
    this.jobsChanged = false;
    try {
      if (fullList) this.send({ type: 'jobs', jobs: await this.views.jobs() }, true);
      for (const run of runs.values()) this.send({ type: 'run', run });
      if (!fullList) for (const [job, nextTickMs] of nexts) this.send({ type: 'next', job, nextTickMs });
    } catch (err) {
      // The job list could not be read (etcd away in cluster mode): end, and let the client resubscribe.
      this.fail(err as Error);
    } finally {
      this.flushing = false;
      this.schedule();
    }
  }

  private sendStatus(): void {
    if (this.live) this.send({ type: 'status', status: this.views.status() });
  }

  private async sendNodes(): Promise<void> {
    const nodes = await this.views.nodes();
    if (this.live) this.send({ type: 'nodes', nodes });
  }

  /** `fullList`: a snapshot or job list, whose size raises how far behind the subscriber may fall. */
  private send(event: DaemonEvent, fullList = false): void {
    if (this.failure) return;
    const before = this.backlogBytes();
    this.write(event);
    const after = this.backlogBytes();
    if (fullList) this.allowance = Math.max(this.allowance, MAX_BACKLOG_BYTES + (after - before));
    if (after > this.allowance) this.fail(new SubscriberTooSlowError(`the subscriber fell ${after} bytes behind; subscribe again for a fresh snapshot`));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.live = false;
    this.finish();
  }
}
