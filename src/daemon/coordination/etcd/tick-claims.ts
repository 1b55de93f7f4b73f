import { randomBytes } from 'node:crypto';
import { CompareResult, CompareTarget, type Etcd3, type ICompare, type IRequestOp, type IResponseOp } from 'etcd3';
import type { ClaimOutcome, ClaimRequest, CursorScope } from '../coordinator.js';
import { decodeTick, encodeTick, SAFE_SEGMENT, TICK_WIDTH, UnsafeKeySegmentError, type ClusterKeys } from './keys.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { TxnBatcher } from './txn-batcher.js';
import { monotonicMs } from './prefix-mirror.js';
import { absent, get, put } from './txn-ops.js';

/** What claiming needs of the node's lease: proof before acting, and the id busy marks are bound to. */
export type LeaseProof = Pick<LeaseKeeper, 'isProven' | 'leaseId'>;

/** As the Coordinator's outcome, and `taken` names the node whose cursor mark beat us (for this tick or a later one). */
export type EtcdClaimOutcome = Exclude<ClaimOutcome, { outcome: 'taken' }> | { outcome: 'taken'; by: string };

/** The value of a busy mark; its fence is the key's mod_revision (the claim's revision is not known before it commits). */
export interface BusyMark {
  node: string;
  tick: number;
}

/** Holder reported when an ambiguous skip is read back after the busy mark was already released. */
const UNKNOWN_HOLDER = 'unknown';

/**
 * How failover markers (`failover/JOB/TICK`) expire. A marker only has to
 * keep a second survivor from rerunning the same tick, and survivors notice
 * a vanished run within a bounded time (the failover watcher's window), so
 * markers live under a short etcd lease of their own, never kept alive: they
 * go by themselves, also when the node that created them crashes.
 */
export interface FailoverMarkerOptions {
  /**
   * Every marker a claim creates exists until at least this long after the
   * claim was sent. The failover watcher starts a rerun only when its claim
   * was answered within this long of the run's vanishing: together, no two
   * reruns of one tick (see claimFailover).
   */
  windowMs: number;
  /** TTL of the lease markers are put under; a lease is reused while it has more than `windowMs` to live. */
  leaseTtlSeconds: number;
}

export const DEFAULT_FAILOVER_MARKERS: FailoverMarkerOptions = { windowMs: 20_000, leaseTtlSeconds: 60 };

/**
 * Exactly-once tick claims on etcd. A job's cursor holds the last tick
 * claimed or passed over, as `<tick16>|<node>|<incarnation>[|skip|pass]`,
 * and moves only forward, compared by value: a late or clock-skewed host
 * can never claim a tick at or before it. Every claim is one transaction,
 * whose revision is the run's fence (DCRON_FENCE): etcd revisions only
 * grow, so fences strictly increase per job.
 *
 * The incarnation (random per instance) lets a read-back recognise this
 * process's own retried commit, without a restarted daemon mistaking the
 * claim of its previous life, maybe already run, for one it still has to run.
 */
export class TickClaims {
  /** `<node>|<incarnation>`: the part of a cursor value that says it was written by this instance. */
  private readonly owner: string;
  /** The lease failover markers go under, with the instant (this host's clock) its grant was asked for. */
  private failoverLease: Promise<{ id: string; askedMs: number }> | null = null;

  /**
   * Claims, advances and releases go through `batcher`: the ones asked for
   * in one turn of the event loop share a request (and a revision: fences
   * still strictly increase per job, whose claims are made one at a time).
   */
  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly nodeId: string,
    private readonly lease: LeaseProof,
    private readonly batcher: TxnBatcher = new TxnBatcher(client),
    readonly failoverMarkers: FailoverMarkerOptions = DEFAULT_FAILOVER_MARKERS,
  ) {
    if (failoverMarkers.leaseTtlSeconds * 1000 <= failoverMarkers.windowMs) throw new RangeError('failover marker leases must outlive the failover window');
    // Node ids go into cursor values too, where a `|` would forge another field.
    if (!SAFE_SEGMENT.test(nodeId)) throw new UnsafeKeySegmentError(`'${nodeId}' is not a valid node id`);
    this.owner = `${nodeId}|${randomBytes(4).toString('hex')}`;
  }

  /**
   * Claims a tick, in one transaction:
   *
   *   IF cursor.value < tick16                      (or, IF cursor is absent)
   *   THEN put cursor = mine = tick16|owner         (holdBusy=false)
   *        | IF busy absent                          (holdBusy=true)
   *          THEN put cursor = mine = tick16|owner, put busy = {node,tick} under our lease
   *          ELSE put cursor = mine = tick16|owner|skip, get busy
   *                (early: get busy only; the claim is made again at the tick)
   *   ELSE get cursor, get mine, get busy
   *
   * so with holdBusy exactly one host records a tick skipped while the job
   * runs elsewhere. `mine` is keys.lastClaim(job, node): a committed claim
   * whose reply was lost, then retried (by the client or the caller), fails
   * its compare though it is ours, and the cursor may have moved on since.
   */
  async claim({ job, tickMs, holdBusy, perHost, early = false }: ClaimRequest): Promise<EtcdClaimOutcome> {
    if (!this.lease.isProven()) return { outcome: 'unproven' };
    const cursorKey = this.cursorKey(job, { perHost });
    const mineKey = this.keys.lastClaim(job, this.nodeId);
    const busyKey = this.keys.busy(job);
    const claimed = this.mark(tickMs);
    const skipped = this.mark(tickMs, 'skip');
    // prev_kv on the cursor put tells the winner which tick the cursor passed from (see 'claimed').
    const write = (mark: string): IRequestOp[] => [{ request_put: { ...put(cursorKey, mark).request_put, prev_kv: true } }, put(mineKey, mark)];
    const busyLease = holdBusy ? this.lease.leaseId() : null;
    const take = busyLease !== null ? [txn([absent(busyKey)], [...write(claimed), put(busyKey, this.busyMark(tickMs), busyLease)], early ? [get(busyKey)] : [...write(skipped), get(busyKey)])] : write(claimed);
    const result = await this.ifCursorBefore(cursorKey, tickMs, take, [get(cursorKey), get(mineKey), get(busyKey)]);

    if (result.moved) {
      const busyCheck = holdBusy ? result.responses[0].response_txn : null;
      if (busyCheck && !busyCheck.succeeded && early) return { outcome: 'notYet' };
      // Skipped or claimed, the cursor moved: the winner learns where it stood, to record the ticks between.
      const cursorPut = (busyCheck ? busyCheck.responses[0] : result.responses[0]).response_put;
      const previous = cursorPut.prev_kv ? decodeTick(cursorPut.prev_kv.value.toString()) : null;
      if (busyCheck && !busyCheck.succeeded) return { outcome: 'busy', fence: result.revision, holder: holderOf(read(busyCheck.responses.at(-1)!)), previousTickMs: previous };
      // A lapse longer than the TTL while the claim was in flight replaced the lease the mark was put under.
      if (busyLease !== null && busyLease !== this.heldLease()) return { outcome: 'claimed', fence: result.revision, previousTickMs: previous, busyMarkGone: true };
      return { outcome: 'claimed', fence: result.revision, previousTickMs: previous };
    }
    const [cursor, mine, busy] = result.responses.map(read);
    // Our own earlier commit, its reply lost: the mark it took is still there only if its lease lived on.
    if (mine?.value === claimed) return holdBusy && busy?.modRevision !== mine.modRevision ? { outcome: 'claimed', fence: mine.modRevision, busyMarkGone: true } : { outcome: 'claimed', fence: mine.modRevision };
    if (mine?.value === skipped) return { outcome: 'busy', fence: mine.modRevision, holder: holderOf(busy) };
    // The cursor exists: had it been absent, the second compare would have passed.
    return { outcome: 'taken', by: cursor!.value.split('|')[1] };
  }

  /**
   * Takes the job's busy mark outside a tick claim (a failover rerun, a
   * moved retry), as a claim does: under this node's lease, its mod revision
   * the fence that releases it. Refused with the holder while another run
   * has it; `from`: the fence of the mark the run's earlier attempts held,
   * taken over rather than waited for.
   */
  async takeBusy(job: string, tickMs: number, from: number | null = null): Promise<{ taken: true; busyFence: number; markGone?: true } | { taken: false; holder: string }> {
    const key = this.keys.busy(job);
    const lease = this.lease.leaseId();
    // Handed over (a moved retry): the mark the offering chain holds, at its fence, becomes ours in one step.
    const free = from === null ? absent(key) : { key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: from };
    const res = await this.batcher.txn({
      compare: [free],
      success: [put(key, this.busyMark(tickMs), lease)],
      failure: [get(key)],
    });
    // The offering chain's mark is gone (its lease lapsed, or it ended): take the job's mark as a rerun would.
    if (!res.succeeded && from !== null && read(res.responses[0]) === null) return this.takeBusy(job, tickMs);
    if (!res.succeeded) return { taken: false, holder: holderOf(read(res.responses[0])) };
    // As for a claim: a lease replaced while the request was in flight took the mark with it.
    return lease === this.heldLease() ? { taken: true, busyFence: res.revision } : { taken: true, busyFence: res.revision, markGone: true };
  }

  /**
   * Claims the rerun of a tick whose host died mid-run (failover=rerun): one
   * transaction creating `failover/JOB/TICK` if absent. Null when another
   * node created it first. The fence is the transaction's revision.
   *
   * Why a marker that expires cannot let a tick run twice: let the run's
   * key vanish at instant X. Every survivor learns of it at or after X and
   * starts a rerun only if its claim was answered within `windowMs` of X
   * (FailoverWatcher), so every claim that leads to a rerun commits in
   * [X, X + windowMs]. A claim is sent after X (its node has learnt of the
   * vanishing) and puts the marker under a lease with more than `windowMs`
   * left to live at that moment, so the marker exists until after
   * X + windowMs: any second claim in that interval finds it and fails.
   * Durations are measured on each host's monotonic clock, and etcd only
   * ever extends a lease (on a leader change), never shortens it.
   */
  async claimFailover(job: string, tickMs: number): Promise<{ fence: number } | null> {
    return this.claimMarker(this.keys.failover(job, tickMs));
  }

  /**
   * The right to run attempt `attempt` of a tick whose retry was offered to
   * another host (retry-elsewhere): the offered host and the offering one
   * both claim it before running, so when the offer's answer is lost the
   * attempt still runs on exactly one. The marker expires as failover's do,
   * long after both have decided (within the offer's timeout).
   */
  async claimRetry(job: string, tickMs: number, attempt: number): Promise<{ fence: number } | null> {
    return this.claimMarker(this.keys.retry(job, tickMs, attempt));
  }

  private async claimMarker(key: string): Promise<{ fence: number } | null> {
    const lease = await this.failoverLeaseId();
    const res = await this.batcher.txn({ compare: [absent(key)], success: [put(key, this.owner, lease)], failure: [get(key)] }).catch((err: unknown) => {
      // A lease etcd no longer has (revoked, or a restore from backup) fails every put under it: grant anew next time.
      this.failoverLease = null;
      throw err;
    });
    if (res.succeeded) return { fence: res.revision };
    const marker = read(res.responses[0]);
    // Our own commit, its reply lost and the request retried: the claim is ours.
    return marker?.value === this.owner ? { fence: marker.modRevision } : null;
  }

  /** The lease keeper's own watchdog says so before etcd could have let the lease expire (SPEC §3). */
  mayAct(): boolean {
    return this.lease.isProven();
  }

  /** Deletes the job's busy mark if it is still the one the claim with `fence` took. True when this call deleted it. */
  async releaseBusy(job: string, fence: number): Promise<boolean> {
    const key = this.keys.busy(job);
    const res = await this.batcher.txn({
      compare: [{ key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: fence }],
      success: [{ request_delete_range: { key: Buffer.from(key) } }],
      failure: [],
    });
    return res.succeeded;
  }

  /** A fresh fence for a run that is not a new tick: the revision of a put to the job's fence key. */
  async nextFence(job: string): Promise<number> {
    const res = await this.client.put(this.keys.fence(job)).value(this.nodeId).exec();
    return Number(res.header.revision);
  }

  /**
   * Creates the job's shared cursor at `tickMs` if it has none yet (a job
   * seen for the first time), through `via`. True when this call created it;
   * a cursor that exists, however old, is left alone, so this never moves
   * one past a tick another node is claiming.
   */
  async createCursor(job: string, tickMs: number, via: TxnBatcher = this.batcher): Promise<boolean> {
    const key = this.cursorKey(job);
    const res = await via.txn({ compare: [absent(key)], success: [put(key, this.mark(tickMs, 'pass'))], failure: [] });
    return res.succeeded;
  }

  /** True for a cursor value this instance wrote (a claim, skip or pass of its own). */
  isOwnMark(value: string): boolean {
    const at = TICK_WIDTH + 1;
    return value.startsWith(this.owner, at) && (value.length === at + this.owner.length || value[at + this.owner.length] === '|');
  }

  /** The last tick claimed or passed over; null if the job was never claimed. */
  async cursor(job: string, scope: CursorScope = {}): Promise<number | null> {
    const value = await this.client.get(this.cursorKey(job, scope)).string();
    return value === null ? null : decodeTick(value);
  }

  /**
   * Moves the cursor forward to `tickMs` without claiming it (missed ticks,
   * new jobs). True when this call moved it, so exactly one host records the
   * ticks passed over. Like a claim, refused while the lease is unproven.
   */
  async advanceCursor(job: string, tickMs: number, scope: CursorScope = {}): Promise<boolean> {
    if (!this.lease.isProven()) return false;
    const key = this.cursorKey(job, scope);
    const mineKey = this.keys.lastClaim(job, this.nodeId);
    const passed = this.mark(tickMs, 'pass');
    const result = await this.ifCursorBefore(key, tickMs, [put(key, passed), put(mineKey, passed)], [get(mineKey)]);
    return result.moved || read(result.responses[0])?.value === passed;
  }

  /** The etcd key holding the job's cursor for `scope`. */
  cursorKey(job: string, { perHost = false }: CursorScope = {}): string {
    return perHost ? this.keys.hostCursor(job, this.nodeId) : this.keys.cursor(job);
  }

  /** A lease for failover markers with more than the window left to live: the current one, or a new grant. */
  private async failoverLeaseId(): Promise<string> {
    const { windowMs, leaseTtlSeconds } = this.failoverMarkers;
    const pending = this.failoverLease;
    const current = pending && (await pending.catch(() => null));
    // Measured from when the grant was asked for: etcd started the TTL later, so the lease lives at least this long.
    if (current && current.askedMs + leaseTtlSeconds * 1000 - monotonicMs() > windowMs) return current.id;
    // Claims that found the same lease too old share one new grant.
    if (this.failoverLease === pending) {
      const askedMs = monotonicMs();
      this.failoverLease = this.client.leaseClient.leaseGrant({ TTL: leaseTtlSeconds }).then((res) => ({ id: String(res.ID), askedMs }));
    }
    return (await this.failoverLease!).id;
  }

  /** The lease held now; null between losing one and being granted the next. */
  private heldLease(): string | null {
    try {
      return this.lease.leaseId();
    } catch {
      return null;
    }
  }

  private busyMark(tickMs: number): string {
    return JSON.stringify({ node: this.nodeId, tick: tickMs } satisfies BusyMark);
  }

  private mark(tickMs: number, kind?: 'skip' | 'pass'): string {
    return `${encodeTick(tickMs)}|${this.owner}${kind === undefined ? '' : `|${kind}`}`;
  }

  /**
   * Runs `then` if the cursor is before `tickMs` or absent, else `otherwise`,
   * in one transaction. etcd fails every value compare on a missing key, so
   * absence is a second, nested compare, not a separate attempt that could race.
   */
  private async ifCursorBefore(cursorKey: string, tickMs: number, then: IRequestOp[], otherwise: IRequestOp[]): Promise<{ moved: boolean; revision: number; responses: IResponseOp[] }> {
    const res = await this.batcher.txn({
      compare: [{ key: Buffer.from(cursorKey), target: CompareTarget.Value, result: CompareResult.Less, value: Buffer.from(encodeTick(tickMs)) }],
      success: then,
      failure: [txn([absent(cursorKey)], then, otherwise)],
    });
    const revision = res.revision;
    if (res.succeeded) return { moved: true, revision, responses: res.responses };
    const inner = res.responses[0].response_txn;
    return { moved: inner.succeeded, revision, responses: inner.responses };
  }
}

/** The key a range op in a transaction read, if it exists. */
function read(response: IResponseOp): { value: string; modRevision: number } | null {
  const kv = response.response_range.kvs[0];
  return kv === undefined ? null : { value: kv.value.toString(), modRevision: Number(kv.mod_revision) };
}

function holderOf(busy: { value: string } | null): string {
  return busy === null ? UNKNOWN_HOLDER : (JSON.parse(busy.value) as BusyMark).node;
}


const txn = (compare: ICompare[], success: IRequestOp[], failure: IRequestOp[]): IRequestOp => ({ request_txn: { compare, success, failure } });
