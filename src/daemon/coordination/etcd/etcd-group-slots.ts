import { EventEmitter } from 'node:events';
import { CompareResult, CompareTarget, type Etcd3 } from 'etcd3';
import type { Logger } from '../../log.js';
import type { GroupPermit, GroupSlots, GroupSlotsEvents, PermitHolder } from '../group-slots.js';
import type { ClusterKeys } from './keys.js';
import type { LeaseProof } from './tick-claims.js';
import { PrefixMirror } from './prefix-mirror.js';
import { absent, put } from './txn-ops.js';
import { untilAnswered } from '../../timing.js';

/** A permit's value: who holds it. */
interface PermitValue extends PermitHolder {
  node: string;
}

/** A lost watch event is found by the next re-list: until then a freed permit waits unused, so not long. */
const GROUPS_RELIST_MS = 5_000;

/**
 * Concurrency groups on etcd: permit I of group G is the key groups/G/I,
 * created only where absent, under the holder's lease. So K keys cap the
 * group at K runs whatever the hosts race, a dead holder's permit goes with
 * its lease, and a permit is deleted only at the revision it was created at,
 * so a release retried late never frees a permit someone else took since.
 * Every node mirrors groups/ to know which indices look free (a stale view
 * costs a failed create, never a second holder) and to wake waiters.
 */
export class EtcdGroupSlots extends EventEmitter<GroupSlotsEvents> implements GroupSlots {
  private readonly mirror: PrefixMirror<PermitValue | null>;
  private stopped = false;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly nodeId: string,
    private readonly lease: LeaseProof,
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
    this.mirror = new PrefixMirror({ client, prefix: keys.groupsPrefix(), decode: (kv) => decodePermit(kv.value.toString()), what: 'group permits', log, relistIntervalMs: GROUPS_RELIST_MS });
    this.mirror.on('changes', (batch) => {
      const freed = new Set<string>();
      for (const c of batch.changes) if (c.type === 'delete') freed.add(this.groupOf(c.key));
      for (const g of freed) this.emit('freed', g);
    });
  }

  async start(): Promise<void> {
    await this.mirror.start();
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.mirror.stop();
  }

  inUse(group: string): number {
    const prefix = `${this.keys.groupsPrefix()}${group}/`;
    let n = 0;
    for (const key of this.mirror.entries().keys()) if (key.startsWith(prefix)) n++;
    return n;
  }

  async tryAcquire(group: string, limit: number, holder: PermitHolder): Promise<GroupPermit | null> {
    if (!this.lease.isProven()) return null;
    const lease = this.lease.leaseId();
    const value = JSON.stringify({ node: this.nodeId, unit: holder.unit, tickMs: holder.tickMs } satisfies PermitValue);
    for (let i = 0; i < limit; i++) {
      const key = this.keys.groupPermit(group, i);
      if (this.mirror.get(key) !== undefined) continue;
      const res = await this.client.kv.txn({ compare: [absent(key)], success: [put(key, value, lease)], failure: [] });
      if (!res.succeeded) continue;
      return this.permit(group, key, Number(res.header.revision), lease);
    }
    return null;
  }

  private permit(group: string, key: string, revision: number, lease: string): GroupPermit {
    let released = false;
    return {
      group,
      held: () => !released && this.heldLease() === lease,
      release: () => {
        if (released) return;
        released = true;
        void this.release(key, revision);
      },
    };
  }

  /** Retried until etcd answers: a permit left behind lives as long as this node's lease, a slot of the group lost meanwhile. */
  private async release(key: string, revision: number): Promise<void> {
    await untilAnswered(
      () =>
        this.client.kv.txn({
          compare: [{ key: Buffer.from(key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: revision }],
          success: [{ request_delete_range: { key: Buffer.from(key) } }],
          failure: [],
        }),
      {
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        stopped: () => this.stopped,
        onFirstError: (err) => this.log.warn('could not give back a group permit; retrying until etcd answers', { key, err }),
      },
    );
  }

  private groupOf(key: string): string {
    const rest = key.slice(this.keys.groupsPrefix().length);
    return rest.slice(0, rest.lastIndexOf('/'));
  }

  private heldLease(): string | null {
    try {
      return this.lease.leaseId();
    } catch {
      return null;
    }
  }
}

function decodePermit(text: string): PermitValue | null {
  try {
    const v = JSON.parse(text) as PermitValue;
    return typeof v === 'object' && v !== null && typeof v.node === 'string' ? v : null;
  } catch {
    return null;
  }
}
