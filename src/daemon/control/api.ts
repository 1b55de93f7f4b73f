import { InvalidRequestError, UnknownJobError } from '../errors.js';
import { VERSION } from '../version.js';
import type { ControlApi, StreamHandler, UnaryHandlers } from './server.js';
import type { DaemonPort } from './daemon-port.js';
import { clusterControlApi } from './cluster-api.js';
import { clusterRunFeed, eventsStream, executorRunFeed, recorderRunFeed, type Views } from './events-stream.js';
import { countRunning, historyLimit, jobOf, listJobs, statusOf, streamLogs, toRunStartView } from './local-queries.js';
import type { NodeView, StatusView } from './api-types.js';

const RECENT_IN_SNAPSHOT = 300;

/** The control methods, as the CLI and TUI see them. */
export function buildControlApi(port: DaemonPort): ControlApi {
  // The one place that asks which kind of daemon this is; what follows is told.
  const cluster = port.cluster;
  const mode = cluster ? 'cluster' : 'single-host';
  const local = singleHostApi(port, mode);
  const clustered = cluster ? clusterControlApi(port, cluster) : null;
  const unary: UnaryHandlers = { ...local.unary, ...clustered?.unary };
  const views: Views = {
    status: () => statusOf(port, mode),
    jobs: async () => unary.ls({}),
    nodes: async () => unary.nodes({}),
    recent: async () => unary.history({ limit: RECENT_IN_SNAPSHOT }),
    running: clustered?.running ?? (async () => port.runLog.runningRuns()),
  };
  return {
    unary,
    streams: {
      logs: clustered?.logs ?? local.logs,
      events: eventsStream({
        views,
        runFeeds: [executorRunFeed(port.executor), recorderRunFeed(port.recorder), ...(cluster ? [clusterRunFeed(cluster)] : [])],
        daemon: port,
        pollNodes: cluster !== null,
      }),
    },
  };
}

type Mode = StatusView['mode'];

function singleHostApi(daemon: DaemonPort, mode: Mode): { unary: UnaryHandlers; logs: StreamHandler<'logs'> } {
  return {
    unary: {
      status: () => statusOf(daemon, mode),
      ls: () => listJobs(daemon),
      run: async (p) => toRunStartView(await daemon.runNow(jobOf(daemon, p.job))),
      kill: (p) => {
        if (!daemon.jobs.has(p.job) && !daemon.executor.isRunning(p.job)) throw new UnknownJobError(p.job);
        return { killed: daemon.executor.kill(p.job, p.runId) };
      },
      history: (p) => daemon.runLog.history({ job: p.job, limit: historyLimit(p.limit), beforeId: p.beforeId }),
      nodes: (): NodeView[] => [
        {
          id: daemon.nodeId,
          self: true,
          healthy: true,
          skewMs: 0,
          running: countRunning(daemon),
          slots: daemon.slotUse(),
          figures: daemon.hostFigures(),
          uptimeMs: daemon.now() - daemon.startedMs,
          labels: {},
          version: VERSION,
          peerUrl: null,
        },
      ],
      diff: () => {
        throw new InvalidRequestError('validate --diff compares a file with a cluster\'s job list: this daemon runs on one host (start it with --etcd)');
      },
      reload: async () => {
        await daemon.reload('requested by client');
        return statusOf(daemon, mode);
      },
      pause: async (p) => {
        jobOf(daemon, p.job);
        const now = daemon.now();
        if (p.untilMs !== undefined && p.untilMs <= now) throw new InvalidRequestError(`pause ${p.job}: --until ${new Date(p.untilMs).toISOString()} is not in the future`);
        const paused = { untilMs: p.untilMs ?? null, atMs: now, by: daemon.nodeId };
        await daemon.pauses.pause(p.job, paused);
        return { job: p.job, paused };
      },
      // A job no longer in the table can still be resumed: its pause outlives its removal from the crontab.
      resume: async (p) => {
        if (!daemon.jobs.has(p.job) && !daemon.pauses.get(p.job)) throw new UnknownJobError(p.job);
        return { job: p.job, resumed: await daemon.pauses.resume(p.job) };
      },
      // In a cluster too these run on this host, the one whose socket was asked: the create-once claim
      // keeps each tick to one run however many hosts are asked, and the answer can wait for the run's end here.
      backfillPlan: (p) => ({ job: p.job, ticks: daemon.backfill.plan(jobOf(daemon, p.job), p.fromMs, p.toMs, p.parallel ?? 1) }),
      backfillTick: (p) => daemon.backfill.runTick(jobOf(daemon, p.job), p.tickMs, p.wait === true),
    },
    logs: (p, send, closed) => streamLogs(daemon, p, send, closed),
  };
}
