import { watchOnOwnStream } from '../coordination/etcd/connect.js';
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { Logger } from '../log.js';
import type { NodeIdentity } from './host-selector.js';

/** What a node says about itself, rewritten every refresh under its lease. */
export interface NodeRecord extends NodeIdentity {
  wallMs: number;
  startedMs: number;
  version: string;
  peerUrl: string | null;
  running: number;
  healthy: boolean;
}

export interface NodeState {
  record: NodeRecord;
  /** Its wall clock minus ours, measured when its latest record reached us. */
  skewMs: number;
}

export interface NodeDirectoryOptions {
  client: Etcd3;
  keys: ClusterKeys;
  log: Logger;
  self: () => Omit<NodeRecord, 'wallMs'>;
  putWithLease: (key: string, value: string) => Promise<unknown>;
  now?: () => number;
  refreshMs?: number;
  skewWarnMs?: number;
}

/**
 * The cluster's live nodes. Each node rewrites its record every second under
 * its lease (so a dead node disappears with its lease) carrying its wall
 * clock; a watch sees each write within milliseconds, which is when clock
 * skew is measured. Membership is also re-listed on every refresh, so a
 * silent watch cannot leave a stale view behind.
 */
export class NodeDirectory extends EventEmitter<{ skew: [NodeState] }> {
  private readonly nodes = new Map<string, NodeState>();
  private watcher: Watcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly warnedSkew = new Set<string>();

  constructor(private readonly opts: NodeDirectoryOptions) {
    super();
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.watcher = await watchOnOwnStream(this.opts.client)
      .prefix(this.opts.keys.nodesPrefix())
      .create();
    this.watcher.on('put', (kv) => this.observe(kv));
    this.watcher.on('delete', (kv) => this.nodes.delete(kv.key.toString().slice(this.opts.keys.nodesPrefix().length)));
    this.watcher.on('error', (err) => this.opts.log.debug('node watch error; the periodic re-list covers it', { err }));
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? 1000);
    this.timer.unref();
  }

  /** Writes our record (now, for a changed lease or health) and re-lists the others. */
  async refresh(): Promise<void> {
    const { client, keys, log } = this.opts;
    try {
      const self = { ...this.opts.self(), wallMs: this.now() };
      await this.opts.putWithLease(keys.node(self.id), JSON.stringify(self));
      const res = await client.getAll().prefix(keys.nodesPrefix()).exec();
      const seen = new Set<string>();
      for (const kv of res.kvs) seen.add(this.observe(kv, false) ?? '');
      for (const id of [...this.nodes.keys()]) if (!seen.has(id)) this.nodes.delete(id);
    } catch (err) {
      log.debug('node registry refresh failed', { err });
    }
  }

  /** Live nodes, as of the last write each made under a lease that still exists. */
  list(): NodeState[] {
    return [...this.nodes.values()].sort((a, b) => a.record.id.localeCompare(b.record.id));
  }

  /** Ids of live nodes whose lease is proven, i.e. those that may claim. */
  healthyIds(): string[] {
    return this.list()
      .filter((n) => n.record.healthy)
      .map((n) => n.record.id);
  }

  get(id: string): NodeState | undefined {
    return this.nodes.get(id);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.watcher?.cancel().catch(() => {});
  }

  /** `fresh`: the record arrived by watch now, so its wall clock can be compared with ours. */
  private observe(kv: IKeyValue, fresh = true): string | null {
    let record: NodeRecord;
    try {
      record = JSON.parse(kv.value.toString()) as NodeRecord;
    } catch {
      return null;
    }
    if (typeof record.id !== 'string') return null;
    const previous = this.nodes.get(record.id);
    const skewMs = fresh ? record.wallMs - this.now() : (previous?.skewMs ?? 0);
    const state = { record, skewMs };
    this.nodes.set(record.id, state);
    if (fresh) this.checkSkew(state);
    return record.id;
  }

  private checkSkew(state: NodeState): void {
    const limit = this.opts.skewWarnMs ?? 500;
    const id = state.record.id;
    if (Math.abs(state.skewMs) > limit && !this.warnedSkew.has(id)) {
      this.warnedSkew.add(id);
      this.opts.log.warn('clock skew over the limit: check NTP', { node: id, skewMs: Math.round(state.skewMs), limitMs: limit });
      this.emit('skew', state);
    } else if (Math.abs(state.skewMs) <= limit) {
      this.warnedSkew.delete(id);
    }
  }
}
