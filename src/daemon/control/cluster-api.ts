import type { RunSummary } from '../cluster/run-reporter.js';
import { hasStarted, type RunRecord } from '../runlog/types.js';
import { diffJobList, formatJobDiff } from '../coordination/etcd/job-diff.js';
import { InvalidRequestError, UnknownRunError } from '../errors.js';
import type { StreamHandler, UnaryHandlers } from './server.js';
import type { ClusterPort, DaemonPort } from './daemon-port.js';
import type { StreamParamsOf } from './methods.js';
import type { JobView, NodeView, RunStartView } from './api-types.js';
import { publishedFigures } from '../ticks/host-figures.js';
import { checkShardParam, historyLimit, jobOf, listJobs, newestStartedRun, streamLogs } from './local-queries.js';

/** The methods whose answers differ in a cluster; the rest are the single host's. */
export type ClusterMethods = Pick<UnaryHandlers, 'ls' | 'run' | 'kill' | 'history' | 'nodes' | 'diff'>;

/**
 * Cluster versions of the control methods: the same answers as on one host,
 * but about the whole cluster. Runs and kills travel through etcd; output of
 * a run made elsewhere comes from that node's peer API.
 */
export function clusterControlApi(daemon: DaemonPort, cluster: ClusterPort): { unary: ClusterMethods; logs: StreamHandler<'logs'>; running: () => Promise<RunRecord[]> } {
  const unary: ClusterMethods = {
    ls: async (): Promise<JobView[]> => {
      const [running, summaries] = await Promise.all([cluster.runningEverywhere(), cluster.summaries()]);
      const latest = latestPerJob(summaries);
      return listJobs(daemon).map((j) => ({
        ...j,
        running: (running.get(j.name) ?? []).map((r) => ({ runId: r.id, host: r.host })),
        lastRun: newest(j.lastRun, latest.get(j.name)),
      }));
    },
    // The chosen node answered with its own `run` handler's RunStartView; it crossed etcd as JSON.
    run: async (p) => (await cluster.runSomewhere(jobOf(daemon, p.job))) as RunStartView,
    kill: async (p) => ({ killed: await cluster.killEverywhere(p.job, p.runId) }),
    history: async (p) => {
      const limit = historyLimit(p.limit);
      const local = daemon.runLog.history({ job: p.job, limit });
      const byId = new Map<string, RunRecord>(local.map((r) => [r.id, r]));
      for (const s of await cluster.summaries(p.job)) if (!byId.has(s.id)) byId.set(s.id, { ...s, pid: null });
      return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, limit);
    },
    nodes: (): NodeView[] =>
      cluster.directory.list().map(({ record, skewMs }) => ({
        id: record.id,
        self: record.id === daemon.nodeId,
        healthy: record.healthy,
        skewMs,
        running: record.running,
        slots: record.slots ?? null,
        figures: publishedFigures(record.figures),
        uptimeMs: record.wallMs - record.startedMs,
        labels: record.labels,
        version: record.version,
        peerUrl: record.peerUrl,
      })),
    diff: (p) => ({ text: formatJobDiff(diffJobList(cluster.jobSource.records(), p.jobs, daemon.nodeId, p.hasErrors === true)) }),
  };
  return {
    unary,
    running: () => runningEverywhere(daemon, cluster),
    logs: async (p, send, closed) => {
      checkShardParam(daemon, p);
      const remote = await findRemoteRun(daemon, cluster, p);
      if (!remote) return streamLogs(daemon, p, send, closed);
      const url = cluster.peerUrlOf(remote.host);
      if (!url) throw new InvalidRequestError(`run ${remote.id} was made on ${remote.host}, which is not reachable now (not in the cluster's live nodes)`);
      const handle = cluster.peer.streamOutput(url, remote.id, { follow: p.follow === true }, (e) => send(e));
      const stop = () => handle.cancel();
      closed.addEventListener('abort', stop);
      try {
        await handle.done;
      } finally {
        closed.removeEventListener('abort', stop);
      }
    },
  };
}

/**
 * The run a `logs` request means, when it was made on another node: the
 * given id if it is not in the local log, or the job's newest started run
 * cluster-wide (of the one shard, if asked) if that one is remote. Null
 * when the local log has it.
 */
async function findRemoteRun(daemon: DaemonPort, cluster: ClusterPort, p: StreamParamsOf<'logs'>): Promise<RunSummary | null> {
  if (p.runId && daemon.runLog.getRun(p.runId)) return null;
  const job = p.job;
  const [running, summaries] = await Promise.all([cluster.runningEverywhere(job), cluster.summaries(job)]);
  const candidates = [...[...running.values()].flat(), ...summaries].filter((r) => hasStarted(r) && (p.shard === undefined || r.shard === p.shard));
  if (p.runId) {
    const found = candidates.find((r) => r.id.startsWith(p.runId!.toUpperCase()));
    if (!found) throw new UnknownRunError(p.runId);
    return found.host === daemon.nodeId ? null : found;
  }
  // No job and no run id: the local handler answers with its error.
  if (!job) return null;
  const newestRemote = candidates.sort((a, b) => (a.id < b.id ? 1 : -1))[0];
  const newestLocal = newestStartedRun(daemon, job, p.shard);
  if (!newestRemote || newestRemote.host === daemon.nodeId || (newestLocal && newestLocal.id > newestRemote.id)) return null;
  return newestRemote;
}

/** Runs in flight anywhere; this host's own records win, as they carry the pid. */
async function runningEverywhere(daemon: DaemonPort, cluster: ClusterPort): Promise<RunRecord[]> {
  const byId = new Map(daemon.runLog.runningRuns().map((r) => [r.id, r]));
  for (const runs of (await cluster.runningEverywhere()).values()) {
    for (const s of runs) if (!byId.has(s.id)) byId.set(s.id, { ...s, pid: null });
  }
  return [...byId.values()].sort((a, b) => a.startedMs - b.startedMs || (a.id < b.id ? -1 : 1));
}

function latestPerJob(summaries: RunSummary[]): Map<string, RunSummary> {
  const out = new Map<string, RunSummary>();
  for (const s of summaries) if (!out.has(s.job)) out.set(s.job, s);
  return out;
}

function newest(local: RunRecord | null, remote: RunSummary | undefined): RunRecord | null {
  if (!remote) return local;
  if (!local || remote.id > local.id) return { ...remote, pid: null };
  return local;
}
