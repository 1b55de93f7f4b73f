import { watchOnOwnStream } from '../coordination/etcd/connect.js';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { JobDefinition } from '../crontab/types.js';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { Executor } from '../executor/executor.js';
import type { Logger } from '../log.js';
import { parseSummary } from './run-reporter.js';

export interface FailoverDeps {
  client: Etcd3;
  keys: ClusterKeys;
  nodeId: string;
  log: Logger;
  executor: Executor;
  job: (name: string) => JobDefinition | undefined;
  /** False while this node cannot prove its lease or may not run the job. */
  mayRun: (job: JobDefinition) => boolean;
  /** The lease a rerun's busy mark (overlap=skip) is bound to. */
  leaseId: () => string;
}

/**
 * failover=rerun: a run's `running/` key lives under its host's lease. When
 * it disappears with no summary written, the host died mid-run (a finished
 * run writes its summary and deletes the key in one transaction), so one
 * surviving node, the one whose create of the tick's failover key commits,
 * runs the tick again with DCRON_TRIGGER=failover.
 */
export class FailoverWatcher {
  private watcher: Watcher | null = null;

  constructor(private readonly deps: FailoverDeps) {}

  async start(): Promise<void> {
    this.watcher = await watchOnOwnStream(this.deps.client).prefix(this.deps.keys.runningPrefix()).withPreviousKV().create();
    this.watcher.on('delete', (_kv, previous) => void this.onGone(previous).catch((err: unknown) => this.deps.log.warn('failover check failed', { err })));
    this.watcher.on('error', (err) => this.deps.log.debug('failover watch error', { err }));
  }

  async stop(): Promise<void> {
    await this.watcher?.cancel().catch(() => {});
  }

  private async onGone(previous: IKeyValue | undefined): Promise<void> {
    const run = previous && parseSummary(previous.value.toString());
    if (!run || run.host === this.deps.nodeId) return;
    const job = this.deps.job(run.job);
    if (!job || job.options.failover !== 'rerun' || !this.deps.mayRun(job)) return;
    const { client, keys } = this.deps;
    if (await client.get(keys.run(run.job, run.id)).exists()) return;
    const key = keys.failover(run.job, run.tickMs);
    const res = await client.if(key, 'Create', '==', 0).then(client.put(key).value(this.deps.nodeId)).commit();
    if (!res.succeeded) return;
    const fence = Number(res.header.revision);
    const tick = { job, tickMs: run.tickMs, trigger: 'failover' as const, fence };
    // overlap=skip holds for reruns too: a later tick may have started since the host died.
    const busy = job.options.overlap === 'skip' && job.options.mode !== 'all' ? await this.takeBusy(run.job, run.tickMs) : { taken: true as const, busyFence: null };
    if (!busy.taken) {
      this.deps.executor.recordSkipped(tick, `failover rerun skipped: overlap=skip, the job is running on ${busy.holder}`);
      return;
    }
    if (!this.deps.mayRun(job)) {
      this.deps.executor.recordLost(tick, 'failover rerun won, but this node could not prove its etcd lease any more; not started');
      return;
    }
    this.deps.log.warn('host died mid-run: running the tick again here (failover=rerun)', { job: run.job, tick: run.tickMs, deadHost: run.host, run: run.id });
    this.deps.executor.submit({ ...tick, busyFence: busy.busyFence });
  }

  /** The job's busy mark, as a tick claim takes it: under this node's lease, its mod revision the fence that releases it. */
  private async takeBusy(job: string, tickMs: number): Promise<{ taken: true; busyFence: number } | { taken: false; holder: string }> {
    const { client, keys, nodeId } = this.deps;
    const key = keys.busy(job);
    const res = await client
      .if(key, 'Create', '==', 0)
      .then(client.put(key).value(JSON.stringify({ node: nodeId, tick: tickMs })).lease(this.deps.leaseId()))
      .else(client.get(key))
      .commit();
    if (res.succeeded) return { taken: true, busyFence: Number(res.header.revision) };
    const kv = res.responses[0]?.response_range?.kvs[0];
    return { taken: false, holder: kv ? (JSON.parse(kv.value.toString()) as { node: string }).node : 'unknown' };
  }
}
