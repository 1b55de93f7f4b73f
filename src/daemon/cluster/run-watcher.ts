import { watchOnOwnStream } from '../coordination/etcd/connect.js';
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { RunRecord } from '../runlog/types.js';
import type { Logger } from '../log.js';
import { parseSummary, type RunSummary } from './run-reporter.js';

export interface RunWatcherDeps {
  client: Etcd3;
  keys: ClusterKeys;
  nodeId: string;
  log: Logger;
  /** Wait before re-creating a watch that etcd cancelled or that could not be created. */
  retryMs?: number;
  now?: () => number;
}

/**
 * Runs of the other nodes as they happen, for the TUI's event stream: a
 * `running/` key appears when a run starts there and its summary under
 * `runs/` when it ends. This node's own runs come from its executor, so
 * they are left out here.
 */
export class RunWatcher extends EventEmitter<{ run: [RunRecord] }> {
  private readonly watchers = new Set<Watcher>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly deps: RunWatcherDeps) {
    super();
  }

  /**
   * One watch over both prefixes: a finished run's summary put and its
   * `running/` delete are one transaction, so they arrive in one response,
   * and only a delete without its summary needs a look at etcd.
   */
  async start(): Promise<void> {
    await this.watch(this.deps.keys.runActivityPrefix(), (w) => w.on('data', (res: IWatchResponse) => this.onEvents(res)));
  }

  private onEvents(res: IWatchResponse): void {
    const { keys } = this.deps;
    const running = keys.runningPrefix();
    const summaries = keys.runsPrefix();
    const summarized = new Set<string>();
    for (const e of res.events) {
      const key = e.kv.key.toString();
      if (e.type === 'Put' && key.startsWith(summaries)) summarized.add(key.slice(summaries.length));
    }
    for (const e of res.events) {
      const key = e.kv.key.toString();
      if (e.type === 'Put' && (key.startsWith(running) || key.startsWith(summaries))) this.report(e.kv);
      else if (e.type === 'Delete' && key.startsWith(running) && !summarized.has(key.slice(running.length))) void this.onRunningGone(e.prev_kv);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retryTimers) clearTimeout(t);
    await Promise.all([...this.watchers].map((w) => w.cancel().catch(() => {})));
    this.watchers.clear();
  }

  /**
   * etcd3 reconnects a watch whose stream broke by itself; 'error' means etcd
   * cancelled it (say, its revision was compacted), and nothing more would
   * ever arrive on it. A new watch starts from now: runs in the gap are missed,
   * which a fresh subscription's snapshot makes good.
   */
  private async watch(prefix: string, wire: (w: Watcher) => void): Promise<void> {
    if (this.stopped) return;
    let watcher: Watcher;
    try {
      watcher = await watchOnOwnStream(this.deps.client).prefix(prefix).withPreviousKV().create();
    } catch (err) {
      this.deps.log.debug('run watch could not be created; retrying', { prefix, err });
      this.retry(prefix, wire);
      return;
    }
    if (this.stopped) {
      await watcher.cancel().catch(() => {});
      return;
    }
    this.watchers.add(watcher);
    wire(watcher);
    watcher.on('error', (err) => {
      this.deps.log.debug('run watch ended by etcd; re-creating it', { prefix, err });
      this.watchers.delete(watcher);
      void watcher.cancel().catch(() => {});
      this.retry(prefix, wire);
    });
  }

  private retry(prefix: string, wire: (w: Watcher) => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      void this.watch(prefix, wire);
    }, this.deps.retryMs ?? 1000);
    this.retryTimers.add(timer);
  }

  private report(kv: IKeyValue): void {
    const summary = parseSummary(kv.value.toString());
    if (summary && summary.host !== this.deps.nodeId) this.emit('run', { ...summary, pid: null });
  }

  /**
   * A finished run deletes its `running/` key in the transaction that writes
   * its summary, which the `runs/` watch reports. A key gone without a summary
   * went with its host's lease: the host died mid-run, and without this the
   * run would show as running for as long as the TUI stays subscribed.
   */
  private async onRunningGone(previous: IKeyValue | undefined): Promise<void> {
    const run = previous && parseSummary(previous.value.toString());
    if (!run || run.host === this.deps.nodeId) return;
    const { client, keys, log } = this.deps;
    try {
      if (await client.get(keys.run(run.job, run.id)).exists()) return;
    } catch (err) {
      log.debug('could not tell whether a remote run ended or was lost', { run: run.id, err });
      return;
    }
    this.emit('run', lostRecord(run, (this.deps.now ?? Date.now)()));
  }
}

function lostRecord(run: RunSummary, nowMs: number): RunRecord {
  return { ...run, pid: null, status: 'lost', endedMs: nowMs, message: `its host ${run.host} left the cluster while it ran` };
}
