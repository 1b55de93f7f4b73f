import { EventEmitter } from 'node:events';
import { CompareResult, CompareTarget, Range, type Etcd3, type ICompare, type IRequestOp } from 'etcd3';
import type { Logger } from '../../log.js';
import { advanceDone, decodeJobDone, emptyTick, endOf, outcomeOf, partOf, sameDone, type EndedTick, type JobDone, type Settlement, type ShardReport, type TickLedger, type TickLedgerEvents, type TickOutcome, type TickState } from '../../ticks/tick-ledger.js';
import { CLOSED_TICK_TTL_SECONDS, EtcdHostTicks } from './etcd-host-ticks.js';
import type { ClusterKeys } from './keys.js';
import { PrefixMirror } from './prefix-mirror.js';
import { absent, deleteRange, get, getRange, put, readOne, type KeySeen } from './txn-ops.js';
import type { TxnBatcher } from './txn-batcher.js';

/**
 * A tick whose shards never all report (a host died mid-shard with
 * failover=none) must not keep its ledger key forever: the keys of ticks
 * still open go under a lease of this TTL, never kept alive.
 */
const OPEN_TICK_TTL_SECONDS = 24 * 3600;
/** Ends of one job's ticks racing on its done state retry; more than this many lost races is a bug. */
const MAX_ATTEMPTS = 50;
/** The done states change once per parent tick: a slow re-list is enough behind the watch. */
const DONE_RELIST_MS = 30_000;

export class LedgerConflictError extends Error {}

/**
 * The tick ledger on etcd (`ticks/JOB/TICK16/I` and `done/JOB`, see
 * tick-ledger.ts; how a report is counted once: report()). Every node mirrors `done/`, so a dependent job is started
 * by whichever node placement picks, also when the reporting node died
 * right after its report.
 */
export class EtcdTickLedger extends EventEmitter<TickLedgerEvents> implements TickLedger {
  private readonly mirror: PrefixMirror<JobDone | null>;
  private readonly known = new Map<string, JobDone>();
  private readonly openTickLease: SharedLease;
  readonly hosts: EtcdHostTicks;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly batcher: TxnBatcher,
    log: Logger,
  ) {
    super();
    this.openTickLease = new SharedLease(client, OPEN_TICK_TTL_SECONDS);
    const closedLease = new SharedLease(client, CLOSED_TICK_TTL_SECONDS);
    this.hosts = new EtcdHostTicks({
      client,
      keys,
      batcher,
      openTickLease: () => this.openTickLease.id(),
      closedLease: () => closedLease.id(),
      moveDone: (job, ended, outcome, seen, drop) => this.moveDone(job, ended, outcome, seen, drop),
    });
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

  /**
   * One transaction creates the shard's key (`ticks/JOB/TICK16/I`) if it is
   * absent, and for a shard that did not end ok its mark (`.../n/I`), and
   * reads the tick back after it: the count of shard keys and the few marks.
   * etcd applies transactions one at a time, so exactly one report reads
   * back the first `failed` and exactly one counts every shard. Reports of
   * one tick never conflict, so 64 shards ending at once cost 64
   * transactions, not a compare-and-swap race; and each reads a count, not
   * every shard's key (all 64 read back by each of 64 reports were most of
   * the daemons' CPU while a tick's last shards ended, and its dependents
   * waited). Only the report that changes the job's done state writes
   * `done/JOB`, compared by mod revision (ticks of one job ending at the
   * same moment are the rare conflict).
   *
   * The settlement's state lists the failed and skipped shards; the ok ones
   * only once the tick has ended (they are then all the others).
   */
  async report(r: ShardReport): Promise<Settlement> {
    const shardKey = this.keys.tickShard(r.job, r.tickMs, r.shard);
    const tickPrefix = Range.prefix(this.keys.tickLedger(r.job, r.tickMs));
    const shardKeys = this.keys.tickShards(r.job, r.tickMs);
    const notOkPrefix = Range.prefix(this.keys.tickNotOks(r.job, r.tickMs));
    const doneKey = this.keys.doneOf(r.job);
    const end = endOf(r);
    const lease = await this.openTickLease.id();
    const mark: IRequestOp[] = end === 'ok' ? [] : [put(this.keys.tickNotOk(r.job, r.tickMs, r.shard), end, lease)];
    const res = await this.batcher.txn({
      compare: [absent(shardKey)],
      success: [put(shardKey, end, lease), ...mark, countRange(shardKeys.start, shardKeys.end), getRange(notOkPrefix), get(doneKey)],
      failure: [],
    });
    if (!res.succeeded) return { failedNow: false, endedNow: false, repeated: true, state: emptyTick(r.shards) };
    const [counted, notOk, done] = res.responses.slice(1 + mark.length);
    const state: TickState = emptyTick(r.shards);
    for (const kv of notOk.response_range.kvs) partOf(state, kv.value.toString()).push(Number(kv.key.toString().slice(notOkPrefix.start.length)));
    const ended = Number(counted.response_range.count);
    const endedNow = ended >= r.shards;
    if (endedNow) {
      const notOkShards = new Set([...state.failed, ...state.skipped]);
      for (let shard = 0; shard < r.shards; shard++) if (!notOkShards.has(shard)) state.ok.push(shard);
    }
    const settlement: Settlement = { failedNow: end === 'failed' && state.failed.length === 1, endedNow, repeated: false, state };
    if (settlement.failedNow || settlement.endedNow) await this.moveDone(r.job, r, outcomeOf(settlement), readOne(done), settlement.endedNow ? tickPrefix : null);
    return settlement;
  }

  /**
   * This node follows the new done state at once, before it is written: a
   * dependent job's claim, not this state, decides who runs it, and the
   * node that ended the tick is often the one placed first for the child.
   * The write also drops the ended tick's keys (`drop`).
   */
  private async moveDone(job: string, ended: EndedTick, outcome: TickOutcome, seen: KeySeen | null, drop: Range | null): Promise<void> {
    const doneKey = this.keys.doneOf(job);
    const dropTick: IRequestOp[] = drop ? [deleteRange(drop)] : [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const before = seen ? (decodeJobDone(seen.value) ?? undefined) : undefined;
      const done = advanceDone(before, ended, outcome);
      if (sameDone(before, done)) {
        if (dropTick.length > 0) await this.batcher.txn({ compare: [], success: dropTick, failure: [] });
        return;
      }
      this.learn(job, done);
      const res = await this.batcher.txn({ compare: [unchanged(doneKey, seen)], success: [put(doneKey, JSON.stringify(done)), ...dropTick], failure: [get(doneKey)] });
      if (res.succeeded) return;
      seen = readOne(res.responses[0]);
    }
    throw new LedgerConflictError(`the done state of ${job} kept changing under ${MAX_ATTEMPTS} attempts to record tick ${ended.tickMs}`);
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

}

/**
 * A lease never kept alive, for keys that must not outlive a bound: one grant
 * shared by the writes that ask at once (64 shards ending together), and a
 * new one once half of it is used, so every key gets at least half the TTL.
 */
export class SharedLease {
  private lease: { id: Promise<string>; grantedMs: number } | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly ttlSeconds: number,
  ) {}

  id(): Promise<string> {
    const now = Date.now();
    if (this.lease === null || now - this.lease.grantedMs > (this.ttlSeconds / 2) * 1000) {
      const id = this.client.leaseClient.leaseGrant({ TTL: this.ttlSeconds }).then((res) => String(res.ID));
      this.lease = { id, grantedMs: now };
      // A failed grant is asked again by the next write, not cached.
      id.catch(() => {
        if (this.lease?.id === id) this.lease = null;
      });
    }
    return this.lease.id;
  }
}


function newer<T extends { tickMs: number }>(a: T | null, b: T | null): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.tickMs >= a.tickMs ? b : a;
}

/** How many keys are in [start, end), without reading them. */
function countRange(start: string, end: string): IRequestOp {
  return { request_range: { key: Buffer.from(start), range_end: Buffer.from(end), count_only: true } };
}

/** The key is as the read found it: absent, or at the same mod revision. */
function unchanged(key: string, seen: KeySeen | null): ICompare {
  return seen === null ? absent(key) : { key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: seen.modRevision };
}
