/**
 * Coalesces small, independent etcd transactions into few requests: every
 * transaction asked for in one turn of the event loop is sent as a nested
 * transaction inside one outer, compare-less transaction, which etcd applies
 * atomically at one revision. Each caller gets its own transaction's
 * outcome, exactly as if it had been sent alone.
 *
 * Why: at every second boundary a node claims dozens of ticks and publishes
 * dozens of runs; one request each costs a gRPC call and a raft entry, and
 * the per-request CPU, not etcd, was what made a busy node fall behind.
 *
 * What it keeps: two transactions writing a common key are never in one
 * request (etcd refuses duplicate keys in a transaction) and are applied in
 * the order they were asked for (a later batch touching a key waits for the
 * earlier one to be answered). A batch etcd refuses as a whole is retried
 * one transaction at a time, so one bad transaction fails only its caller.
 * A batch whose outcome is unknown (the reply was lost) fails for all its
 * callers, as each request would have: claims read their own commit back.
 */
import { EtcdLeaseInvalidError, GRPCInvalidArgumentError, type Etcd3, type ICompare, type IRequestOp, type IResponseOp } from 'etcd3';

/** What one caller asks: one transaction, as it would send it alone. */
export interface SubTxn {
  compare: ICompare[];
  success: IRequestOp[];
  failure: IRequestOp[];
}

export interface SubTxnResult {
  succeeded: boolean;
  responses: IResponseOp[];
  /** Store revision after the request that carried it: a claim's fence. */
  revision: number;
}

export interface TxnBatcherOptions {
  /** Transactions per request. etcd 3.4 refuses some nested requests well below its --max-txn-ops of 128. */
  maxPerRequest?: number;
  /** Payload bytes per request, under etcd's 1.5 MiB --max-request-bytes. */
  maxBytesPerRequest?: number;
  /** Requests in flight at once. */
  maxInFlight?: number;
}

interface Pending {
  sub: SubTxn;
  keys: string[];
  bytes: number;
  resolve: (r: SubTxnResult) => void;
  reject: (err: unknown) => void;
}

class Batch {
  readonly items: Pending[] = [];
  readonly keys = new Set<string>();
  bytes = 0;

  conflicts(keys: Iterable<string>): boolean {
    for (const k of keys) if (this.keys.has(k)) return true;
    return false;
  }

  add(p: Pending): void {
    this.items.push(p);
    for (const k of p.keys) this.keys.add(k);
    this.bytes += p.bytes;
  }
}

export class TxnBatcher {
  private readonly maxPerRequest: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  /** Collecting until the flush; full or conflicting ones are closed into `queued`. */
  private open: Batch | null = null;
  private readonly queued: Batch[] = [];
  private readonly inFlight = new Set<Batch>();
  private flushScheduled = false;
  /** Requests sent and transactions carried, for tests and the bench. */
  readonly stats = { requests: 0, transactions: 0 };

  constructor(private readonly client: Etcd3, opts: TxnBatcherOptions = {}) {
    this.maxPerRequest = opts.maxPerRequest ?? 64;
    this.maxBytes = opts.maxBytesPerRequest ?? 1024 * 1024;
    this.maxInFlight = opts.maxInFlight ?? 4;
  }

  txn(sub: SubTxn): Promise<SubTxnResult> {
    return new Promise((resolve, reject) => {
      const p: Pending = { sub, keys: writtenKeys(sub), bytes: sizeOf(sub), resolve, reject };
      if (this.open && (this.open.conflicts(p.keys) || this.open.items.length >= this.maxPerRequest || this.open.bytes + p.bytes > this.maxBytes)) {
        this.queued.push(this.open);
        this.open = null;
      }
      (this.open ??= new Batch()).add(p);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate, not a microtask: the rest of this turn's I/O callbacks (other ticks due, other runs ending) join the batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.open) this.queued.push(this.open);
    this.open = null;
    this.pump();
  }

  /** Sends queued batches in order, except one that shares a key with an earlier batch not yet answered. */
  private pump(): void {
    const blocked = new Set<string>();
    for (const b of this.inFlight) for (const k of b.keys) blocked.add(k);
    for (let i = 0; i < this.queued.length; i++) {
      const b = this.queued[i];
      if (this.inFlight.size < this.maxInFlight && !b.conflicts(blocked)) {
        this.queued.splice(i--, 1);
        this.send(b);
      }
      for (const k of b.keys) blocked.add(k);
    }
  }

  private send(b: Batch): void {
    this.inFlight.add(b);
    this.stats.requests++;
    this.stats.transactions += b.items.length;
    void this.carry(b.items).finally(() => {
      this.inFlight.delete(b);
      this.pump();
    });
  }

  private async carry(items: Pending[]): Promise<void> {
    try {
      const results = await this.request(items.map((p) => p.sub));
      items.forEach((p, i) => p.resolve(results[i]));
    } catch (err) {
      if (items.length > 1 && refusedAsAWhole(err)) {
        // etcd applied none of it because of one transaction (a put under a lease just replaced, too
        // many operations): alone, each gets its own answer.
        await Promise.all(items.map((p) => this.carry([p])));
        return;
      }
      for (const p of items) p.reject(err);
    }
  }

  private async request(subs: SubTxn[]): Promise<SubTxnResult[]> {
    if (subs.length === 1) {
      const res = await this.client.kv.txn(subs[0]);
      return [{ succeeded: res.succeeded, responses: res.responses, revision: Number(res.header.revision) }];
    }
    const res = await this.client.kv.txn({ compare: [], success: subs.map((sub) => ({ request_txn: sub })), failure: [] });
    const revision = Number(res.header.revision);
    return res.responses.map((r) => ({ succeeded: r.response_txn.succeeded, responses: r.response_txn.responses, revision }));
  }
}

/** etcd answered and applied nothing, for a reason that may lie in a single transaction of the batch. */
function refusedAsAWhole(err: unknown): boolean {
  return err instanceof GRPCInvalidArgumentError || err instanceof EtcdLeaseInvalidError;
}

/** Keys a transaction may write, in either branch: what must not meet in one request. */
function writtenKeys(sub: SubTxn): string[] {
  const keys: string[] = [];
  const walk = (ops: IRequestOp[]) => {
    for (const op of ops) {
      if (op.request_put?.key) keys.push(op.request_put.key.toString());
      // A range delete is keyed by its start: the transactions batched here delete single keys.
      else if (op.request_delete_range?.key) keys.push(op.request_delete_range.key.toString());
      else if (op.request_txn) {
        walk(op.request_txn.success ?? []);
        walk(op.request_txn.failure ?? []);
      }
    }
  };
  walk(sub.success);
  walk(sub.failure);
  return keys;
}

/** Bytes of keys and values, near enough for staying under the request limit. */
function sizeOf(sub: SubTxn): number {
  let n = 64;
  const walk = (ops: IRequestOp[]) => {
    for (const op of ops) {
      n += 16;
      if (op.request_put) n += (op.request_put.key?.length ?? 0) + (op.request_put.value?.length ?? 0);
      else if (op.request_range) n += op.request_range.key?.length ?? 0;
      else if (op.request_delete_range) n += op.request_delete_range.key?.length ?? 0;
      else if (op.request_txn) {
        walk(op.request_txn.success ?? []);
        walk(op.request_txn.failure ?? []);
      }
    }
  };
  for (const c of sub.compare) n += 16 + (c.key?.length ?? 0) + (Buffer.isBuffer(c.value) ? c.value.length : 0);
  walk(sub.success);
  walk(sub.failure);
  return n;
}
