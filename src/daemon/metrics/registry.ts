import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the daemon exports, on a registry of its own (not prom-client's
 * global one, so two daemons in one test process do not share counters).
 *
 * No metric has a `job` label: a cluster may hold 100,000 jobs, and a label
 * per job (times the histograms' buckets) would be millions of series for
 * the Prometheus server. Per-job detail is in `dcron ls` and `dcron history`;
 * these series answer "is the scheduler healthy", cluster-wide bounded.
 */
export interface DaemonMetrics {
  registry: Registry;
  ticksDue: Counter;
  ticksClaimed: Counter;
  ticksRun: Counter;
  ticksSkipped: Counter;
  ticksMissed: Counter;
  runs: Counter<'status'>;
  fireLatency: Histogram;
  runDuration: Histogram;
  running: Gauge;
  paused: Gauge;
  leaseHealthy: Gauge;
  leaseKeepaliveAge: Gauge;
  etcdErrors: Counter<'op'>;
  clockSkew: Gauge<'node'>;
}

/** Current state, read at scrape time by the gauges that report it. */
export interface MetricProbes {
  /** Runs in flight on this node. */
  running(): number;
  /** Jobs of the table under an operator's pause now. */
  paused(): number;
  /** Cluster only: whether the lease is proven, and seconds since the last keepalive (null before any). */
  lease?(): { healthy: boolean; keepaliveAgeSeconds: number | null };
  /** Cluster only: every known node's clock skew against this one. */
  skew?(): Array<{ node: string; seconds: number }>;
}

export function createMetrics(probes: MetricProbes): DaemonMetrics {
  const registry = new Registry();
  // Unprefixed (process_*, nodejs_*), as every Node exporter names them, so stock dashboards work.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    ticksDue: new Counter({ name: 'dcron_ticks_due_total', help: 'Scheduled ticks that came due on this node (each node counts the ticks of the jobs it may run).', registers }),
    ticksClaimed: new Counter({ name: 'dcron_ticks_claimed_total', help: 'Ticks this node claimed (won) and handed to the executor.', registers }),
    ticksRun: new Counter({ name: 'dcron_ticks_run_total', help: 'Scheduled or catch-up ticks whose first attempt started on this node.', registers }),
    ticksSkipped: new Counter({ name: 'dcron_ticks_skipped_total', help: 'Ticks skipped because the previous run still ran (overlap=skip).', registers }),
    ticksMissed: new Counter({ name: 'dcron_ticks_missed_total', help: 'Ticks recorded as missed by this node (daemon down past catchup, or unclaimed in a cluster).', registers }),
    runs: new Counter({ name: 'dcron_runs_total', help: 'Run records written by this node, by final status.', labelNames: ['status'], registers }),
    fireLatency: new Histogram({
      name: 'dcron_fire_latency_seconds',
      help: 'Start of a tick\'s first attempt minus its scheduled instant (includes configured jitter).',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    runDuration: new Histogram({
      name: 'dcron_run_duration_seconds',
      help: 'Wall time of finished runs (each attempt).',
      buckets: [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400],
      registers,
    }),
    running: new Gauge({
      name: 'dcron_running_jobs',
      help: 'Runs in flight on this node.',
      registers,
      collect() {
        this.set(probes.running());
      },
    }),
    paused: new Gauge({
      name: 'dcron_paused_jobs',
      help: 'Jobs paused now by an operator (dcron pause): their ticks are recorded paused, not run. The same on every node of a cluster.',
      registers,
      collect() {
        this.set(probes.paused());
      },
    }),
    leaseHealthy: new Gauge({
      name: 'dcron_lease_healthy',
      help: '1 while this node may claim ticks (cluster: its etcd lease is proven alive), else 0. Always 1 on a single host.',
      registers,
      collect() {
        this.set(probes.lease === undefined || probes.lease().healthy ? 1 : 0);
      },
    }),
    leaseKeepaliveAge: new Gauge({
      name: 'dcron_lease_keepalive_age_seconds',
      help: 'Cluster: seconds since the last successful lease keepalive was sent (absent on a single host).',
      registers: probes.lease ? registers : [],
      collect() {
        const age = probes.lease?.().keepaliveAgeSeconds;
        if (age !== undefined && age !== null) this.set(age);
      },
    }),
    etcdErrors: new Counter({ name: 'dcron_etcd_request_errors_total', help: 'Cluster: failed etcd requests, by operation (claim, publish_run, keepalive).', labelNames: ['op'], registers }),
    clockSkew: new Gauge({
      name: 'dcron_clock_skew_seconds',
      help: 'Cluster: each node\'s wall clock minus this node\'s, as last measured (absent on a single host).',
      labelNames: ['node'],
      registers,
      collect() {
        if (!probes.skew) return;
        this.reset();
        for (const { node, seconds } of probes.skew()) this.set({ node }, seconds);
      },
    }),
  };
}
