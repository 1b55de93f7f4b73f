import { EventEmitter } from 'node:events';
import { CompareResult, CompareTarget, type Etcd3, type ICompare, type IRequestOp, type IResponseOp } from 'etcd3';
import type { Logger } from '../../log.js';
import { applyReport, decodeJobDone, decodeTickState, sameDone, type JobDone, type Settlement, type ShardReport, type TickLedger, type TickLedgerEvents } from '../../ticks/tick-ledger.js';
import type { ClusterKeys } from './keys.js';
import { PrefixMirror } from './prefix-mirror.js';
import type { TxnBatcher } from './txn-batcher.js';

/**
 * A tick whose shards never all report (a host died mid-shard with
 * failover=none) must not keep its ledger key forever: the keys of ticks
 * still open go under a lease of this TTL, never kept alive.
 */
const OPEN_TICK_TTL_SECONDS = 24 * 3600;
/** A lease is reused for new keys while it has at least this much left. */
const OPEN_TICK_REUSE_MS = (OPEN_TICK_TTL_SECONDS / 2) * 1000;
/** Reports racing on one tick retry their compare-and-swap; more than this many lost races is a bug. */
const MAX_ATTEMPTS = 50;
/** The done states change once per parent tick: a slow re-list is enough behind the watch. */
const DONE_RELIST_MS = 30_000;

export class LedgerConflictError extends Error {}

/**
 * The tick ledger on etcd (`ticks/JOB/TICK16` and `done/JOB`, see
 * tick-ledger.ts). A report reads both keys and writes them back in one
 * transaction that compares their mod revisions: of reports racing on one
 * tick from several hosts, each is applied once, on the state the one
 * before it left. Every node mirrors `done/`, so a dependent job is started
 * by whichever node placement picks, also when the reporting node died
 * right after its report.
 */
export class EtcdTickLedger extends EventEmitter<TickLedgerEvents> implements TickLedger {
  private readonly mirror: PrefixMirror<JobDone | null>;
  private readonly known = new Map<string, JobDone>();
  private lease: { id: string; grantedMs: number } | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly batcher: TxnBatcher,
    log: Logger,
  ) {
    super();
    this.mirror = new PrefixMirror({ client, prefix: keys.doneOfPrefix(), decode: (kv) => decodeJobDone(kv.value.toString()), what: 'job done state', log, relistIntervalMs: DONE_RELIST_MS });
    this.mirror.on('changes', (batch) => {
      for (const change of batch.changes) {
        if (change.type !== 'put' || !change.value) continue;
        this.learn(change.key.slice(keys.doneOfPrefix().length), change.value);
      }
    });
  }

  async start(): Promise<void> {
    await this.mirror.start();
    for (const [key, entry] of this.mirror.entries()) if (entry.value) this.learn(key.slice(this.keys.doneOfPrefix().length), entry.value);
  }

  doneOf(job: string): JobDone | undefined {
    return this.known.get(job);
  }

  async report(r: ShardReport): Promise<Settlement> {
    const tickKey = this.keys.tickLedger(r.job, r.tickMs);
    const doneKey = this.keys.doneOf(r.job);
    let reads = await this.batcher.txn({ compare: [], success: [get(tickKey), get(doneKey)], failure: [] });
    let responses = reads.responses;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const [tickKv, doneKv] = responses.map(read);
      const before = tickKv ? decodeTickState(tickKv.value) : null;
      const doneBefore = doneKv ? (decodeJobDone(doneKv.value) ?? undefined) : undefined;
      const { tick, done, settlement } = applyReport(before, doneBefore, r);
      if (settlement.repeated) return settlement;
      const writes: IRequestOp[] = [settlement.endedNow ? del(tickKey) : put(tickKey, JSON.stringify(tick), await this.openTickLease())];
      const moved = !sameDone(doneBefore, done);
      if (moved) writes.push(put(doneKey, JSON.stringify(done)));
      reads = await this.batcher.txn({ compare: [unchanged(tickKey, tickKv), unchanged(doneKey, doneKv)], success: writes, failure: [get(tickKey), get(doneKey)] });
      if (reads.succeeded) {
        if (moved) this.learn(r.job, done);
        return settlement;
      }
      responses = reads.responses;
    }
    throw new LedgerConflictError(`the ledger of ${r.job}'s tick ${r.tickMs} kept changing under ${MAX_ATTEMPTS} reports`);
  }

  async close(): Promise<void> {
    await this.mirror.stop();
  }

  private learn(job: string, done: JobDone): void {
    const before = this.known.get(job);
    // Only forward: a re-list that raced a newer report must not move a job back.
    const merged: JobDone = { ok: newer(before?.ok ?? null, done.ok), failed: newer(before?.failed ?? null, done.failed) };
    if (sameDone(before, merged)) return;
    this.known.set(job, merged);
    this.emit('done', job, merged);
  }

  private async openTickLease(): Promise<string> {
    const now = Date.now();
    if (this.lease === null || now - this.lease.grantedMs > OPEN_TICK_REUSE_MS) {
      const res = await this.client.leaseClient.leaseGrant({ TTL: OPEN_TICK_TTL_SECONDS });
      this.lease = { id: String(res.ID), grantedMs: now };
    }
    return this.lease.id;
  }
}

function newer<T extends { tickMs: number }>(a: T | null, b: T | null): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.tickMs >= a.tickMs ? b : a;
}

function read(response: IResponseOp): { value: string; modRevision: string } | null {
  const kv = response.response_range.kvs[0];
  return kv === undefined ? null : { value: kv.value.toString(), modRevision: String(kv.mod_revision) };
}

/** The key is as the read found it: absent, or at the same mod revision. */
function unchanged(key: string, seen: { modRevision: string } | null): ICompare {
  return seen === null
    ? { key: Buffer.from(key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }
    : { key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: seen.modRevision };
}

const get = (key: string): IRequestOp => ({ request_range: { key: Buffer.from(key) } });
const put = (key: string, value: string, lease?: string): IRequestOp => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease } });
const del = (key: string): IRequestOp => ({ request_delete_range: { key: Buffer.from(key) } });
