import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { PrefixMirror, type MirrorBatch } from '../coordination/etcd/prefix-mirror.js';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { Logger } from '../log.js';
import type { NodeIdentity } from './host-selector.js';
import type { HostFigures } from '../ticks/host-figures.js';

/** What a node says about itself, rewritten every refresh under its lease. */
export interface NodeRecord extends NodeIdentity {
  wallMs: number;
  startedMs: number;
  version: string;
  peerUrl: string | null;
  running: number;
  /** Slots its runs take, of its `--slots` (total 0: no limit); absent in records of older versions. */
  slots?: SlotUse;
  /** Its free memory, load and free disk, as `requires=` compares them (sampled at most 1 s before the write); absent in records of older versions. */
  figures?: HostFigures;
  healthy: boolean;
}

export interface SlotUse {
  used: number;
  /** 0: no limit. */
  total: number;
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
 * clock; the mirrored watch sees each write within milliseconds, which is
 * when clock skew is measured. Membership is re-listed as often as records
 * are written, so a silent watch cannot leave a stale view behind for long.
 */
export class NodeDirectory extends EventEmitter<{ skew: [NodeState] }> {
  private readonly nodes = new Map<string, NodeState>();
  private readonly mirror: PrefixMirror<NodeRecord | null>;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly warnedSkew = new Set<string>();

  constructor(private readonly opts: NodeDirectoryOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.mirror = new PrefixMirror<NodeRecord | null>({
      client: opts.client,
      prefix: opts.keys.nodesPrefix(),
      decode: (kv) => parseRecord(kv.value.toString()),
      what: 'node registry',
      log: opts.log,
      relistIntervalMs: opts.refreshMs ?? 1000,
    });
    this.mirror.on('changes', (batch) => this.apply(batch));
  }

  async start(): Promise<void> {
    await this.refresh();
    await this.mirror.start();
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? 1000);
    this.timer.unref();
  }

  /** Writes our record (now, for a changed lease or health); peers and the mirror see it by watch. */
  async refresh(): Promise<void> {
    try {
      const self = { ...this.opts.self(), wallMs: this.now() };
      await this.opts.putWithLease(this.opts.keys.node(self.id), JSON.stringify(self));
    } catch (err) {
      this.opts.log.debug('node registry refresh failed', { err });
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
    await this.mirror.stop();
  }

  private apply(batch: MirrorBatch<NodeRecord | null>): void {
    const prefixLength = this.opts.keys.nodesPrefix().length;
    for (const change of batch.changes) {
      const id = change.key.slice(prefixLength);
      if (change.type === 'delete' || change.value === null) this.nodes.delete(id);
      // A record arriving by watch was written just now: its wall clock can be compared with ours.
      else this.observe(id, change.value, batch.source === 'watch');
    }
  }

  private observe(id: string, record: NodeRecord, fresh: boolean): void {
    const previous = this.nodes.get(id);
    const skewMs = fresh ? record.wallMs - this.now() : (previous?.skewMs ?? 0);
    const state = { record, skewMs };
    this.nodes.set(id, state);
    if (fresh) this.checkSkew(state);
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

function parseRecord(value: string): NodeRecord | null {
  try {
    const record = JSON.parse(value) as NodeRecord;
    return typeof record?.id === 'string' ? record : null;
  } catch {
    return null;
  }
}
