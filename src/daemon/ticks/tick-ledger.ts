/**
 * The tick ledger: what became of a whole tick of a job whose tick is more
 * than one run (a sharded job), or that other jobs follow (`after=`). Each
 * run chain that ends reports its shard here, on whichever host it ran; the
 * ledger keeps, per tick, which shards ended ok and which failed, and per
 * job the newest tick that ended ok and the newest that failed.
 *
 * A report is one atomic read-modify-write (a SQLite transaction on one
 * host, a compare-and-swap transaction on etcd), so exactly one report is
 * the one that made the tick fail, and exactly one the one that ended it:
 * those are the moments the tick alerts (once) and its dependents follow.
 */
import type { EventEmitter } from 'node:events';

/** The shards of one tick that have ended so far. */
export interface TickState {
  shards: number;
  ok: number[];
  failed: number[];
}

/** A tick of a job that ended (every shard ok), or that failed (a shard failed for good). */
export interface EndedTick {
  tickMs: number;
  /** When that happened, by the clock of the host that reported it. */
  atMs: number;
}

/** The newest ended ticks of one job: what `after=` and `after-failure=` follow. */
export interface JobDone {
  ok: EndedTick | null;
  failed: EndedTick | null;
}

export interface ShardReport {
  job: string;
  tickMs: number;
  shards: number;
  /** 0 for a job that is not sharded. */
  shard: number;
  ok: boolean;
  atMs: number;
}

export interface Settlement {
  /** This report made the tick failed: the first shard to fail for good. The tick alerts now, once. */
  failedNow: boolean;
  /** This report ended the tick: every shard has ended (ok or not). */
  endedNow: boolean;
  /** This report was already counted (a repeated report of the same shard): nothing changed. */
  repeated: boolean;
  state: TickState;
}

export type TickLedgerEvents = {
  /** A job's done state moved (here or, in a cluster, on any host). */
  done: [job: string, done: JobDone];
};

export interface TickLedger extends EventEmitter<TickLedgerEvents> {
  /** Counts one shard's end. */
  report(report: ShardReport): Promise<Settlement>;
  /** The newest ended ticks of a job, as last seen; undefined: none yet. */
  doneOf(job: string): JobDone | undefined;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** What one report does to a tick's state and the job's done state: pure, shared by both stores. */
export function applyReport(before: TickState | null, done: JobDone | undefined, r: ShardReport): { tick: TickState; done: JobDone; settlement: Settlement } {
  const tick: TickState = before ? { shards: before.shards, ok: [...before.ok], failed: [...before.failed] } : { shards: r.shards, ok: [], failed: [] };
  if (tick.ok.includes(r.shard) || tick.failed.includes(r.shard)) return { tick, done: advanceDone(done, r, null), settlement: { failedNow: false, endedNow: false, repeated: true, state: tick } };
  (r.ok ? tick.ok : tick.failed).push(r.shard);
  const settlement = settlementOf(tick, r);
  return { tick, done: advanceDone(done, r, settlement), settlement };
}

/** What `r` did, given the tick's state with it counted: exactly one report sees each transition, as reports are applied one at a time. */
export function settlementOf(after: TickState, r: ShardReport): Settlement {
  return { failedNow: !r.ok && after.failed.length === 1, endedNow: after.ok.length + after.failed.length >= after.shards, repeated: false, state: after };
}

/** The job's done state after a report; only forward: a tick that ends after a later one (overlap=allow) does not move the job back. */
export function advanceDone(done: JobDone | undefined, r: ShardReport, s: Settlement | null): JobDone {
  const next: JobDone = { ok: done?.ok ?? null, failed: done?.failed ?? null };
  if (s === null) return next;
  const ended: EndedTick = { tickMs: r.tickMs, atMs: r.atMs };
  if (s.failedNow && (next.failed === null || next.failed.tickMs < r.tickMs)) next.failed = ended;
  if (s.endedNow && s.state.failed.length === 0 && (next.ok === null || next.ok.tickMs < r.tickMs)) next.ok = ended;
  return next;
}

/** No state yet and a state with no ended tick are the same: nothing for dependents to follow. */
export function sameDone(a: JobDone | undefined, b: JobDone): boolean {
  return (a?.ok?.tickMs ?? null) === (b.ok?.tickMs ?? null) && (a?.failed?.tickMs ?? null) === (b.failed?.tickMs ?? null);
}

export function decodeTickState(text: string): TickState | null {
  try {
    const v = JSON.parse(text) as TickState;
    return Number.isInteger(v.shards) && Array.isArray(v.ok) && Array.isArray(v.failed) ? v : null;
  } catch {
    return null;
  }
}

export function decodeJobDone(text: string): JobDone | null {
  try {
    const v = JSON.parse(text) as JobDone;
    const ended = (e: unknown) => e === null || (typeof e === 'object' && Number.isFinite((e as EndedTick).tickMs) && Number.isFinite((e as EndedTick).atMs));
    return v && ended(v.ok) && ended(v.failed) ? v : null;
  } catch {
    return null;
  }
}
