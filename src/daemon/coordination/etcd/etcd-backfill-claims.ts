import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { BackfillClaims } from '../backfill-claims.js';
import type { ClusterKeys } from './keys.js';
import { absent, get, holds, put, readOne } from './txn-ops.js';

/**
 * Backfill claims in etcd: `backfill/UNIT/TICK16`, created in one
 * transaction comparing its create_revision with 0, so one node in the
 * cluster wins each tick. The value carries a random token per claim: a
 * commit whose reply was lost and was retried fails its compare though the
 * key is ours, and the read-back in the else branch recognises it.
 * The keys are never deleted by a timer: a lease would let a tick be
 * backfilled again after it expired.
 */
export class EtcdBackfillClaims implements BackfillClaims {
  constructor(private readonly client: Etcd3, private readonly keys: ClusterKeys, private readonly nodeId: string, private readonly now: () => number = Date.now) {}

  async claim(unit: string, tickMs: number): Promise<boolean> {
    const key = this.keys.backfill(unit, tickMs);
    const value = JSON.stringify({ node: this.nodeId, atMs: this.now(), token: randomBytes(8).toString('hex') });
    const res = await this.client.kv.txn({ compare: [absent(key)], success: [put(key, value)], failure: [get(key)] });
    if (res.succeeded) return true;
    return readOne(res.responses[0])?.value === value;
  }

  /** Deletes the key only while it still holds this node's claim: nobody else's claim is ever dropped. */
  async release(unit: string, tickMs: number): Promise<void> {
    const key = this.keys.backfill(unit, tickMs);
    const res = await this.client.get(key).string();
    if (res === null || (JSON.parse(res) as { node?: string }).node !== this.nodeId) return;
    await this.client.kv.txn({ compare: [holds(key, res)], success: [{ request_delete_range: { key: Buffer.from(key) } }], failure: [] });
  }
}
