import { Range, type Etcd3 } from 'etcd3';
import { mayClose, type EndedTick, type HostClose, type HostReport, type HostSettlement, type HostsState, type HostTicks, type TickOutcome } from '../../ticks/tick-ledger.js';
import type { ClusterKeys } from './keys.js';
import type { TxnBatcher } from './txn-batcher.js';
import { absent, get, getRange, holds, noneHolds, put, readOne, type KeySeen } from './txn-ops.js';

/**
 * How long after its tick a host may still join a mode=all tick. Hosts
 * join when their run starts (at the tick, or at the claim ahead of it), so
 * this only matters when an eligible host does not run the tick at all: the
 * tick then ends this long after its time.
 */
export const HOST_JOIN_GRACE_MS = 5000;
/**
 * The closed mark must outlive every join that could still come (a join is
 * also refused by the joiner's own clock after the grace), and then go: a
 * job firing every second would otherwise keep one key per tick.
 */
export const CLOSED_TICK_TTL_SECONDS = 600;
/** A close that loses its race to a join (or another close) reads again; a few rounds settle it. */
const MAX_CLOSE_ROUNDS = 5;

const RUNNING = 'running';

export interface EtcdHostTicksDeps {
  client: Etcd3;
  keys: ClusterKeys;
  batcher: TxnBatcher;
  /** The lease of a tick's keys while it is open (etcd-ledger.ts). */
  openTickLease: () => Promise<string>;
  closedLease: () => Promise<string>;
  /** Moves the job's done state for the tick's outcome, dropping `drop` with it. */
  moveDone: (job: string, ended: EndedTick, outcome: TickOutcome, seen: KeySeen | null, drop: Range | null) => Promise<void>;
}

/**
 * mode=all ticks on etcd (see HostTicks in tick-ledger.ts): one key per host
 * that started the tick, `ticks/JOB/TICK16/h/NODE`, `running` until it is
 * reported `ok` or `failed`, and `ticks/JOB/TICK16/closed` once it ended.
 * A join compares `closed` absent; a close compares that no host key holds
 * `running` and puts `closed`. etcd applies transactions one at a time, so
 * a join either lands before the close (and the close fails, to read again)
 * or after it (and is refused): the hosts a tick ended with are final.
 */
export class EtcdHostTicks implements HostTicks {
  readonly joinGraceMs = HOST_JOIN_GRACE_MS;

  constructor(private readonly deps: EtcdHostTicksDeps) {}

  async join(job: string, tickMs: number, host: string): Promise<boolean> {
    const { keys, batcher } = this.deps;
    const closed = keys.tickClosed(job, tickMs);
    const res = await batcher.txn({
      compare: [absent(closed), absent(keys.tickHost(job, tickMs, host))],
      success: [put(keys.tickHost(job, tickMs, host), RUNNING, await this.deps.openTickLease())],
      failure: [get(closed)],
    });
    // Failed with no closed mark: this host had joined already (a retry of its run).
    return res.succeeded || readOne(res.responses[0]) === null;
  }

  /** One report per host counts: it turns that host's `running` into its end, and reads the tick back in the same transaction. */
  async reportHost(r: HostReport): Promise<HostSettlement> {
    const { keys, batcher } = this.deps;
    const hosts = this.hostsRange(r.job, r.tickMs);
    const hostKey = keys.tickHost(r.job, r.tickMs, r.host);
    const res = await batcher.txn({
      compare: [holds(hostKey, RUNNING)],
      success: [put(hostKey, r.ok ? 'ok' : 'failed', await this.deps.openTickLease()), getRange(hosts), get(keys.doneOf(r.job))],
      failure: [],
    });
    if (!res.succeeded) return { failedNow: false, repeated: true, state: { running: [], ok: [], failed: [] } };
    const state = this.stateOf(res.responses[1].response_range.kvs, hosts);
    const failedNow = !r.ok && state.failed.length === 1;
    if (failedNow) await this.deps.moveDone(r.job, r, { failedNow: true, endedNow: false, anyFailed: true }, readOne(res.responses[2]), null);
    return { failedNow, repeated: false, state };
  }

  async close(job: string, tickMs: number, expected: readonly string[], nowMs: number): Promise<HostClose> {
    const { client, keys, batcher } = this.deps;
    const hosts = this.hostsRange(job, tickMs);
    const closed = keys.tickClosed(job, tickMs);
    for (let round = 1; round <= MAX_CLOSE_ROUNDS; round++) {
      const read = await client.getAll().prefix(hosts.start.toString()).exec();
      const state = this.stateOf(read.kvs, hosts);
      const joined = [...state.running, ...state.ok, ...state.failed];
      if (joined.length === 0) return { outcome: 'none' };
      if (state.running.length > 0) return { outcome: 'running' };
      const may = mayClose(joined, expected, tickMs, this.joinGraceMs, nowMs);
      if (!may.close) return { outcome: 'wait', atMs: may.atMs };
      const res = await batcher.txn({
        compare: [absent(closed), noneHolds(hosts, RUNNING)],
        success: [put(closed, '', await this.deps.closedLease()), getRange(hosts), get(keys.doneOf(job))],
        failure: [get(closed)],
      });
      // Lost to another close (the tick has ended) or to a join (read again).
      if (!res.succeeded && readOne(res.responses[0]) !== null) return { outcome: 'none' };
      if (!res.succeeded) continue;
      const final = this.stateOf(res.responses[1].response_range.kvs, hosts);
      const outcome = { failedNow: false, endedNow: true, anyFailed: final.failed.length > 0 };
      // The closed mark stays (under its own short lease) to refuse late joins; the hosts' keys go.
      await this.deps.moveDone(job, { tickMs, atMs: nowMs }, outcome, readOne(res.responses[2]), hosts);
      return { outcome: 'ended', state: final };
    }
    return { outcome: 'running' };
  }

  private hostsRange(job: string, tickMs: number): Range {
    return Range.prefix(this.deps.keys.tickHosts(job, tickMs));
  }

  private stateOf(kvs: ReadonlyArray<{ key: Buffer; value: Buffer }>, hosts: Range): HostsState {
    const state: HostsState = { running: [], ok: [], failed: [] };
    for (const kv of kvs) {
      const host = kv.key.toString().slice(hosts.start.length);
      const value = kv.value.toString();
      (value === 'ok' ? state.ok : value === RUNNING ? state.running : state.failed).push(host);
    }
    return state;
  }
}
