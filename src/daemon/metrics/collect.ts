import { performance } from 'node:perf_hooks';
import type { ExecutorPort, RecorderPort } from '../control/daemon-port.js';
import type { NodeDirectory } from '../cluster/node-directory.js';
import type { LeaseKeeper } from '../coordination/etcd/lease-keeper.js';
import type { TickOutcome } from '../ticks/tick-pipeline.js';
import type { RunRecord } from '../runlog/types.js';
import { onEtcdError } from './etcd-errors.js';
import { createMetrics, type DaemonMetrics, type MetricProbes } from './registry.js';

/** What the metrics read of a daemon (the Daemon itself, in production). */
export interface MetricsSource {
  readonly executor: Pick<ExecutorPort, 'runningCount' | 'on' | 'off'>;
  readonly recorder: RecorderPort;
  /** How many jobs of the table are paused now. */
  pausedCount(): number;
  /** Null on a single host. */
  readonly cluster: { readonly lease: Pick<LeaseKeeper, 'lastProof' | 'isProven' | 'on' | 'off'>; readonly directory: Pick<NodeDirectory, 'list'> } | null;
  on(event: 'ticks', listener: (outcome: TickOutcome, job: string, count: number) => void): unknown;
  off(event: 'ticks', listener: (outcome: TickOutcome, job: string, count: number) => void): unknown;
}

/**
 * Creates the daemon's metrics and feeds them from the daemon's and
 * executor's events; gauges that are a current state (running runs, lease,
 * skew) read it at scrape time. `stop` unsubscribes.
 */
export function collectDaemonMetrics(daemon: MetricsSource): { metrics: DaemonMetrics; stop: () => void } {
  const cluster = daemon.cluster;
  const probes: MetricProbes = {
    running: () => daemon.executor.runningCount(),
    paused: () => daemon.pausedCount(),
  };
  if (cluster) {
    probes.lease = () => {
      // The keeper's clock is performance.now() (monotonic), like lastProof().
      const last = cluster.lease.lastProof();
      return { healthy: cluster.lease.isProven(), keepaliveAgeSeconds: last === null ? null : (performance.now() - last) / 1000 };
    };
    probes.skew = () => cluster.directory.list().map((n) => ({ node: n.record.id, seconds: n.skewMs / 1000 }));
  }
  const m = createMetrics(probes);

  const onTicks = (outcome: TickOutcome, _job: string, count: number) => {
    const counter = outcome === 'due' ? m.ticksDue : outcome === 'claimed' ? m.ticksClaimed : m.ticksMissed;
    counter.inc(count);
  };
  const onStarted = (run: RunRecord) => {
    // Manual and backfilled runs are not ticks coming due: their start is no measure of fire latency.
    if (run.attempt !== 1 || run.trigger === 'manual' || run.trigger === 'backfill') return;
    m.ticksRun.inc();
    m.fireLatency.observe(Math.max(0, run.startedMs - run.tickMs) / 1000);
  };
  const onFinished = (run: RunRecord) => {
    m.runs.inc({ status: run.status });
    if (run.endedMs !== null) m.runDuration.observe(Math.max(0, run.endedMs - run.startedMs) / 1000);
  };
  const onRecorded = (run: RunRecord) => {
    m.runs.inc({ status: run.status });
    if (run.status === 'skipped') m.ticksSkipped.inc();
  };
  const onAttemptFailed = () => m.etcdErrors.inc({ op: 'keepalive' });
  daemon.on('ticks', onTicks);
  daemon.executor.on('run-started', onStarted);
  daemon.executor.on('run-finished', onFinished);
  daemon.recorder.on('run-recorded', onRecorded);
  cluster?.lease.on('attempt-failed', onAttemptFailed);
  const offEtcd = cluster ? onEtcdError((op) => m.etcdErrors.inc({ op })) : () => {};

  // Zero-valued series from the start, so rate() and alerts work before the first event.
  for (const status of ['ok', 'failed', 'timeout', 'killed', 'lost', 'skipped', 'missed', 'paused']) m.runs.inc({ status }, 0);
  if (cluster) for (const op of ['claim', 'publish_run', 'keepalive']) m.etcdErrors.inc({ op }, 0);

  const stop = () => {
    daemon.off('ticks', onTicks);
    daemon.executor.off('run-started', onStarted);
    daemon.executor.off('run-finished', onFinished);
    daemon.recorder.off('run-recorded', onRecorded);
    cluster?.lease.off('attempt-failed', onAttemptFailed);
    offEtcd();
  };
  return { metrics: m, stop };
}
