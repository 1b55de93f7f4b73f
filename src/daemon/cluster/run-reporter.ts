import { Range, type Etcd3 } from 'etcd3';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { RunRecord } from '../runlog/types.js';
import type { Logger } from '../log.js';
import { reportEtcdError } from '../metrics/etcd-errors.js';

/** Longest message kept in a summary: etcd holds small records, SQLite the rest. */
const MAX_MESSAGE_CHARS = 500;

/** What etcd keeps of a run: the record without the pid, message capped. */
export type RunSummary = Omit<RunRecord, 'pid'>;

export function summarize(run: RunRecord): RunSummary {
  const { pid: _pid, ...rest } = run;
  return { ...rest, message: run.message === null ? null : run.message.slice(0, MAX_MESSAGE_CHARS) };
}

export function parseSummary(value: string): RunSummary | null {
  try {
    const v = JSON.parse(value) as RunSummary;
    return typeof v.id === 'string' && typeof v.job === 'string' && typeof v.host === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * Publishes this node's runs to etcd so every host can answer `ls`, `kill`,
 * `history` and `logs`: a `running/` key under the node's lease while a run
 * is in flight (it vanishes with the node), then a small summary under
 * `runs/`, capped per job.
 */
export class RunReporter {
  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly leaseId: () => string,
    private readonly log: Logger,
    private readonly keepPerJob = 20,
  ) {}

  async started(run: RunRecord): Promise<void> {
    await this.guard(run, () => this.client.put(this.keys.running(run.job, run.id)).value(JSON.stringify(summarize(run))).lease(this.leaseId()).exec());
  }

  async finished(run: RunRecord): Promise<void> {
    await this.guard(run, async () => {
      const summary = JSON.stringify(summarize(run));
      await this.client
        .if(this.keys.run(run.job, run.id), 'Create', '==', 0)
        .then(this.client.put(this.keys.run(run.job, run.id)).value(summary), this.client.delete().key(this.keys.running(run.job, run.id)))
        .else(this.client.delete().key(this.keys.running(run.job, run.id)))
        .commit();
      await this.trim(run.job);
    });
  }

  /** Recorded skips and misses: a summary only. */
  async recorded(run: RunRecord): Promise<void> {
    await this.guard(run, async () => {
      await this.client.put(this.keys.run(run.job, run.id)).value(JSON.stringify(summarize(run)));
      await this.trim(run.job);
    });
  }

  /** Run ids sort by start time, so the oldest summaries are the first keys. */
  private async trim(job: string): Promise<void> {
    const keys = await this.client.getAll().prefix(this.keys.runsPrefix(job)).sort('Key', 'Ascend').keys();
    const excess = keys.length - this.keepPerJob;
    if (excess <= 0) return;
    await this.client.delete().range(new Range(keys[0], keys[excess - 1] + '\0'));
  }

  private async guard(run: RunRecord, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      reportEtcdError('publish_run');
      // The run itself is safe in SQLite; etcd only loses the cluster-wide view of it.
      this.log.warn('could not publish run to etcd', { job: run.job, run: run.id, err });
    }
  }
}
