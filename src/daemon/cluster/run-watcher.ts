import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { PrefixMirror, type MirrorBatch } from '../coordination/etcd/prefix-mirror.js';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { RunRecord } from '../runlog/types.js';
import type { Logger } from '../log.js';
import { parseSummary, type RunSummary } from './run-reporter.js';

export interface RunWatcherDeps {
  client: Etcd3;
  keys: ClusterKeys;
  nodeId: string;
  log: Logger;
  /**
   * `running/` keys, watched together with `runs/`: the one mirror failover
   * watches too (cluster-runtime.ts), which starts and stops it. Two mirrors
   * of the same keys decoded every run's start and end twice on every node,
   * 128 watch events more per 64-shard tick just when its end was due.
   */
  activity: PrefixMirror<RunSummary | null>;
  now?: () => number;
}

/** How often the activity mirror re-lists when nothing else asks sooner: runs in flight are few, a re-list is cheap. */
export const RUN_ACTIVITY_RELIST_MS = 30_000;

/** The mirror RunWatcher and failover share. */
export function runActivityMirror(client: Etcd3, keys: ClusterKeys, log: Logger, relistIntervalMs = RUN_ACTIVITY_RELIST_MS): PrefixMirror<RunSummary | null> {
  return new PrefixMirror<RunSummary | null>({
    client,
    prefix: keys.runningPrefix(),
    watchPrefix: keys.runActivityPrefix(),
    decode: (kv) => parseSummary(kv.value.toString()),
    what: 'run activity',
    log,
    relistIntervalMs,
  });
}

/**
 * Runs of the other nodes as they happen, for the TUI's event stream: a
 * `running/` key appears when a run starts there and its summary under
 * `runs/` when it ends. This node's own runs come from its executor, so
 * they are left out here.
 *
 * A finished run's summary put and its `running/` delete are one
 * transaction, so they arrive in one batch, and only a delete without its
 * summary (or one found by a re-list) needs a look at etcd.
 */
export class RunWatcher extends EventEmitter<{ run: [RunRecord] }> {
  private readonly onBatch = (batch: MirrorBatch<RunSummary | null>) => this.onChanges(batch);

  constructor(private readonly deps: RunWatcherDeps) {
    super();
  }

  /** Listens to the shared mirror; runs already in flight when it started are not reported. */
  start(): void {
    this.deps.activity.on('changes', this.onBatch);
  }

  stop(): void {
    this.deps.activity.off('changes', this.onBatch);
  }

  private onChanges(batch: MirrorBatch<RunSummary | null>): void {
    const running = this.deps.keys.runningPrefix();
    const summaries = this.deps.keys.runsPrefix();
    const summarized = new Set<string>();
    for (const c of batch.changes) if (c.type === 'put' && c.key.startsWith(summaries)) summarized.add(c.key.slice(summaries.length));
    for (const c of batch.changes) {
      if (c.type === 'put') this.report(c.value);
      else if (c.key.startsWith(running) && c.previous && !summarized.has(c.key.slice(running.length))) void this.onRunningGone(c.previous);
    }
  }

  private report(summary: RunSummary | null): void {
    if (summary && summary.host !== this.deps.nodeId) this.emit('run', { ...summary, pid: null });
  }

  /**
   * A finished run deletes its `running/` key in the transaction that writes
   * its summary. A key gone without a summary in the same batch either
   * ended while the watch was down (a re-list found it gone), or went with
   * its host's lease: the host died mid-run, and without this the run would
   * show as running for as long as the TUI stays subscribed.
   */
  private async onRunningGone(run: RunSummary): Promise<void> {
    if (run.host === this.deps.nodeId) return;
    const { client, keys, log } = this.deps;
    let summary: string | null;
    try {
      summary = await client.get(keys.run(run.job, run.id)).string();
    } catch (err) {
      log.debug('could not tell whether a remote run ended or was lost', { run: run.id, err });
      return;
    }
    if (summary !== null) this.report(parseSummary(summary));
    else this.emit('run', lostRecord(run, (this.deps.now ?? Date.now)()));
  }
}

function lostRecord(run: RunSummary, nowMs: number): RunRecord {
  return { ...run, pid: null, status: 'lost', endedMs: nowMs, message: `its host ${run.host} left the cluster while it ran` };
}
