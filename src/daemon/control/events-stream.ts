import type { RunRecord } from '../runlog/types.js';
import { DcronError } from '../errors.js';
import type { StreamHandler } from './server.js';
import type { ClusterPort, DaemonPort, ExecutorPort, RecorderPort } from './daemon-port.js';
import type { DaemonEvent, JobView, NodeView, StatusView } from './api-types.js';

/**
 * Queued events go out at most this often: a burst (every job ticking in
 * the same second) becomes a few messages, and an event still reaches the
 * TUI well within 100 ms.
 */
const FLUSH_MS = 30;
/** More next-tick changes than this in one flush go out as one `jobs` list instead. */
const MAX_NEXT_PER_FLUSH = 500;
const NODES_EVERY_MS = 1000;
const STATUS_EVERY_MS = 3000;
/** How far a subscriber may fall behind in unread bytes, on top of the largest full list sent to it. */
const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

/** The subscriber read too slowly; it can subscribe again for a fresh snapshot. */
export class SubscriberTooSlowError extends DcronError {}

/** What a subscription shows, as the control API answers it (cluster-wide in cluster mode). */
export interface Views {
  status(): StatusView;
  jobs(): Promise<JobView[]>;
  nodes(): Promise<NodeView[]>;
  recent(): Promise<RunRecord[]>;
  running(): Promise<RunRecord[]>;
}

/** Subscribes a listener to run records; returns the undo. */
export type RunFeed = (onRun: (run: RunRecord) => void) => () => void;

export interface EventSources {
  views: Views;
  runFeeds: RunFeed[];
  daemon: Pick<DaemonPort, 'on' | 'off'>;
  /** Nodes come and go only in a cluster: on one host the list never changes. */
  pollNodes: boolean;
}

export const executorRunFeed = (executor: ExecutorPort): RunFeed => (onRun) => {
  executor.on('run-started', onRun);
  executor.on('run-finished', onRun);
  return () => {
    executor.off('run-started', onRun);
    executor.off('run-finished', onRun);
  };
};

export const recorderRunFeed = (recorder: RecorderPort): RunFeed => (onRun) => {
  recorder.on('run-recorded', onRun);
  return () => recorder.off('run-recorded', onRun);
};

export const clusterRunFeed = (cluster: Pick<ClusterPort, 'runs'>): RunFeed => (onRun) => {
  cluster.runs.on('run', onRun);
  return () => cluster.runs.off('run', onRun);
};

/**
 * The `events` stream: a snapshot, then what changes. Its views come from
 * the final unary table, so `ls`, `history` and `nodes` mean here what they
 * mean to the CLI.
 */
export function eventsStream(sources: EventSources): StreamHandler<'events'> {
  return (_params, send, closed, backlogBytes) => new Subscription(sources, send, backlogBytes).run(closed);
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
    private readonly sources: EventSources,
    private readonly write: (event: DaemonEvent) => void,
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
    const { daemon, runFeeds, pollNodes } = this.sources;
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
    if (pollNodes) timers.push(setInterval(() => void this.sendNodes().catch((err: Error) => this.fail(err)), NODES_EVERY_MS));
    const undoFeeds = runFeeds.map((feed) => feed(onRun));
    daemon.on('jobs-changed', onJobs);
    daemon.on('next-tick', onNext);
    return () => {
      for (const t of timers) clearInterval(t);
      for (const undo of undoFeeds) undo();
      daemon.off('jobs-changed', onJobs);
      daemon.off('next-tick', onNext);
    };
  }

  private async sendSnapshot(): Promise<void> {
    // The lists read below already hold these changes; queued runs stay, as a run applied twice is the same run.
    this.jobsChanged = false;
    this.nexts.clear();
    const [jobs, running, recent, nodes] = await Promise.all([this.sources.views.jobs(), this.sources.views.running(), this.sources.views.recent(), this.sources.views.nodes()]);
    this.send({ type: 'snapshot', status: this.sources.views.status(), jobs, running, recent, nodes }, true);
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
      if (fullList) this.send({ type: 'jobs', jobs: await this.sources.views.jobs() }, true);
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
    if (this.live) this.send({ type: 'status', status: this.sources.views.status() });
  }

  private async sendNodes(): Promise<void> {
    const nodes = await this.sources.views.nodes();
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
