import { watchOnOwnStream } from '../coordination/etcd/connect.js';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { JobDefinition } from '../crontab/types.js';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { TickClaims } from '../coordination/etcd/tick-claims.js';
import type { Executor } from '../executor/executor.js';
import type { RunRecorder } from '../runlog/run-recorder.js';
import type { Logger } from '../log.js';
import { parseSummary } from './run-reporter.js';

export interface FailoverDeps {
  client: Etcd3;
  keys: ClusterKeys;
  nodeId: string;
  log: Logger;
  executor: Executor;
  recorder: RunRecorder;
  job: (name: string) => JobDefinition | undefined;
  /** False while this node cannot prove its lease or may not run the job. */
  mayRun: (job: JobDefinition) => boolean;
  /** Takes the job's busy mark for a rerun (overlap=skip), as a tick claim does. */
  takeBusy: TickClaims['takeBusy'];
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
    const record = { ...tick, job: job.name };
    // overlap=skip holds for reruns too: a later tick may have started since the host died.
    const busy = job.options.overlap === 'skip' && job.options.mode !== 'all' ? await this.deps.takeBusy(run.job, run.tickMs) : { taken: true as const, busyFence: null };
    if (!busy.taken) {
      this.deps.recorder.skipped(record, `failover rerun skipped: overlap=skip, the job is running on ${busy.holder}`);
      return;
    }
    if (!this.deps.mayRun(job) || ('markGone' in busy && busy.markGone)) {
      this.deps.recorder.lost(record, 'failover rerun won, but this node could not prove its etcd lease any more; not started');
      return;
    }
    this.deps.log.warn('host died mid-run: running the tick again here (failover=rerun)', { job: run.job, tick: run.tickMs, deadHost: run.host, run: run.id });
    this.deps.executor.submit({ ...tick, busyFence: busy.busyFence });
  }
}
