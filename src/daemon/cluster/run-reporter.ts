import { Range, type Etcd3, type IRequestOp, type IResponseOp } from 'etcd3';
import type { TxnBatcher } from '../coordination/etcd/txn-batcher.js';
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
 *
 * Writes go through the node's TxnBatcher, so the runs that start (or end)
 * in one turn of the event loop cost one request, not one each; the
 * summary's transaction also counts the job's summaries, and the cap is
 * applied only once they exceed it by `trimSlack`, not with a read per run.
 * A job has at most one trim in flight: the shards of one tick all see the
 * count go over together, and one trim each saturated the CPU at the very
 * moment the tick's end and its child's claim were waiting on etcd.
 */
export class RunReporter {
  constructor(
    private readonly batcher: TxnBatcher,
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly leaseId: () => string,
    private readonly log: Logger,
    private readonly keepPerJob = 20,
    private readonly trimSlack = 20,
  ) {}

  private readonly trims = new Map<string, PendingTrim>();
  private trimsRun = 0;

  /** Trims read and deleted so far: what coalescing saves is visible in tests. */
  get trimCount(): number {
    return this.trimsRun;
  }

  async started(run: RunRecord): Promise<void> {
    await this.guard(run, () => this.batcher.txn({ compare: [], success: [put(this.keys.running(run.job, run.id), JSON.stringify(summarize(run)), this.leaseId())], failure: [] }));
  }

  async finished(run: RunRecord): Promise<void> {
    await this.guard(run, async () => {
      const summaryKey = this.keys.run(run.job, run.id);
      const dropRunning: IRequestOp = { request_delete_range: { key: Buffer.from(this.keys.running(run.job, run.id)) } };
      // Written once: a summary already there (a retried publish) is not replaced.
      const res = await this.batcher.txn({
        compare: [{ key: Buffer.from(summaryKey), target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [put(summaryKey, JSON.stringify(summarize(run))), dropRunning, this.count(run.job)],
        failure: [dropRunning],
      });
      if (res.succeeded) await this.trimIfOver(run, res.responses[2]);
    });
  }

  /** Recorded skips and misses: a summary only. */
  async recorded(run: RunRecord): Promise<void> {
    await this.guard(run, async () => {
      const res = await this.batcher.txn({ compare: [], success: [put(this.keys.run(run.job, run.id), JSON.stringify(summarize(run))), this.count(run.job)], failure: [] });
      await this.trimIfOver(run, res.responses[1]);
    });
  }

  private count(job: string): IRequestOp {
    const range = Range.prefix(this.keys.runsPrefix(job));
    return { request_range: { key: range.start, range_end: range.end, count_only: true } };
  }

  /**
   * A sharded job keeps two ticks' worth of shard summaries beyond the usual
   * count: a peer that sees a shard's running/ key go asks for its summary to
   * tell a finished run from a dead host's, and 64 shards ending at once
   * would otherwise trim summaries of the tick that just ended, so they
   * would look lost (failed ticks, false failover reruns).
   */
  private keepFor(run: RunRecord): number {
    return this.keepPerJob + 2 * (run.shards ?? 0);
  }

  private async trimIfOver(run: RunRecord, counted: IResponseOp): Promise<void> {
    if (Number(counted.response_range.count) > this.keepFor(run) + this.trimSlack) await this.requestTrim(run.job, this.keepFor(run));
  }

  /**
   * Joins the job's trim in flight, asking it to go once more: the summaries
   * written since it read the keys are then trimmed too, and a hundred
   * requests cost two trims, not a hundred.
   */
  private requestTrim(job: string, keep: number): Promise<void> {
    const inFlight = this.trims.get(job);
    if (inFlight) {
      inFlight.again = true;
      inFlight.keep = Math.max(inFlight.keep, keep);
      return inFlight.done;
    }
    const pending: PendingTrim = { again: false, keep, done: Promise.resolve() };
    this.trims.set(job, pending);
    pending.done = (async () => {
      try {
        do {
          pending.again = false;
          await this.trim(job, pending.keep);
        } while (pending.again);
      } finally {
        this.trims.delete(job);
      }
    })();
    return pending.done;
  }

  /** Run ids sort by start time, so the oldest summaries are the first keys. */
  private async trim(job: string, keep: number): Promise<void> {
    this.trimsRun++;
    const keys = await this.client.getAll().prefix(this.keys.runsPrefix(job)).sort('Key', 'Ascend').keys();
    const excess = keys.length - keep;
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

interface PendingTrim {
  again: boolean;
  /** The most any requester asked to keep: a sharded run's count wins over a plain one. */
  keep: number;
  done: Promise<void>;
}

function put(key: string, value: string, lease?: string): IRequestOp {
  return { request_put: { key: Buffer.from(key), value: Buffer.from(value), lease } };
}
