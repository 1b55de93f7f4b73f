/**
 * The tick ledger: what became of a whole tick of a job whose tick is more
 * than one run (a sharded job), or that other jobs follow (`after=`). Each
 * run chain that ends reports its shard here, on whichever host it ran, and
 * so does a shard that will not run (skipped by overlap, missed, claimed but
 * not started); the ledger keeps, per tick, which shards ended ok, failed or
 * did not run, and per job the newest tick that ended ok and the newest that
 * failed. A tick with a shard that did not run ends neither: it did not do
 * its work, but nothing failed, so it neither starts `after=` nor pages.
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
  /** Shards that did not run. */
  skipped: number[];
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
  /** The shard did not run (ok is false): skipped by overlap, missed, or claimed and not started. */
  skipped?: boolean;
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

/** One host's end of a mode=all tick in a cluster. */
export interface HostReport {
  job: string;
  tickMs: number;
  host: string;
  ok: boolean;
  atMs: number;
}

/** The hosts that started a mode=all tick, by how they stand. */
export interface HostsState {
  running: string[];
  ok: string[];
  failed: string[];
}

export interface HostSettlement {
  /** This report made the tick failed: the first host to fail for good. The tick alerts now, once. */
  failedNow: boolean;
  /** Not counted: this host never joined the tick (it joined too late), or its end was already counted. */
  repeated: boolean;
  state: HostsState;
}

/** What an attempt to end a mode=all tick found. */
export type HostClose =
  /** This attempt ended it: no host still runs it, and none may join any more. */
  | { outcome: 'ended'; state: HostsState }
  /** A host that started the tick is still running it: its end (or its loss) closes the tick. */
  | { outcome: 'running' }
  /** An eligible host has not started it yet and may still: try again at `atMs`. */
  | { outcome: 'wait'; atMs: number }
  /** Already ended, or nobody started it. */
  | { outcome: 'none' };

/**
 * mode=all ticks in a cluster. A tick's parts are the hosts that start it,
 * which nobody knows in advance, so a tick ends in two steps: each host
 * joins when its run starts and reports when its chain ends; then the tick
 * is closed, once no host still runs it and every eligible host has joined
 * or the join grace is over. A join after the close is refused, so the
 * result, once out, never changes.
 */
export interface HostTicks {
  /** How long after its tick a host may still join a mode=all tick. */
  readonly joinGraceMs: number;
  /** Counts this host in the tick; false if the tick has closed (this run is not counted). */
  join(job: string, tickMs: number, host: string): Promise<boolean>;
  /** Counts one host's end (its own, or a dead host's, reported by a survivor). */
  reportHost(report: HostReport): Promise<HostSettlement>;
  /** Ends the tick if it may end now; `expected`: the hosts eligible for the job, as this node sees them. */
  close(job: string, tickMs: number, expected: readonly string[], nowMs: number): Promise<HostClose>;
}

export interface TickLedger extends EventEmitter<TickLedgerEvents> {
  /** Counts one shard's end. */
  report(report: ShardReport): Promise<Settlement>;
  /** mode=all ticks over several hosts: only where peers share ticks. On one host a mode=all tick is a tick of one part. */
  readonly hosts?: HostTicks;
  /** The newest ended ticks of a job, as last seen; undefined: none yet. */
  doneOf(job: string): JobDone | undefined;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** What one report does to a tick's state and the job's done state: pure, shared by both stores. */
export function applyReport(before: TickState | null, done: JobDone | undefined, r: ShardReport): { tick: TickState; done: JobDone; settlement: Settlement } {
  const tick: TickState = before ? { shards: before.shards, ok: [...before.ok], failed: [...before.failed], skipped: [...before.skipped] } : emptyTick(r.shards);
  if (tick.ok.includes(r.shard) || tick.failed.includes(r.shard) || tick.skipped.includes(r.shard)) return { tick, done: advanceDone(done, r, null), settlement: { failedNow: false, endedNow: false, repeated: true, state: tick } };
  partOf(tick, endOf(r)).push(r.shard);
  const settlement = settlementOf(tick, r);
  return { tick, done: advanceDone(done, r, outcomeOf(settlement)), settlement };
}

/** What `r` did, given the tick's state with it counted: exactly one report sees each transition, as reports are applied one at a time. */
export function settlementOf(after: TickState, r: ShardReport): Settlement {
  return { failedNow: endOf(r) === 'failed' && after.failed.length === 1, endedNow: after.ok.length + after.failed.length + after.skipped.length >= after.shards, repeated: false, state: after };
}

/** How a shard ended, as the stores write it. */
export type ShardEnd = 'ok' | 'failed' | 'skipped';

export const endOf = (r: ShardReport): ShardEnd => (r.ok ? 'ok' : r.skipped ? 'skipped' : 'failed');

export const emptyTick = (shards: number): TickState => ({ shards, ok: [], failed: [], skipped: [] });

/** The list of a tick's shards that ended this way. */
export function partOf(tick: TickState, end: string): number[] {
  return end === 'ok' ? tick.ok : end === 'skipped' ? tick.skipped : tick.failed;
}

/** What a report or a close did to its tick, as far as the job's done state cares. */
export interface TickOutcome {
  failedNow: boolean;
  endedNow: boolean;
  /** Some part of the tick failed (so far). */
  anyFailed: boolean;
}

export function outcomeOf(s: Settlement): TickOutcome {
  // A shard that did not run keeps the tick from ending ok, without failing it.
  return { failedNow: s.failedNow, endedNow: s.endedNow, anyFailed: s.state.failed.length > 0 || s.state.skipped.length > 0 };
}

/** The job's done state after a tick's outcome; only forward: a tick that ends after a later one (overlap=allow) does not move the job back. */
export function advanceDone(done: JobDone | undefined, ended: EndedTick, o: TickOutcome | null): JobDone {
  const next: JobDone = { ok: done?.ok ?? null, failed: done?.failed ?? null };
  if (o === null) return next;
  const at: EndedTick = { tickMs: ended.tickMs, atMs: ended.atMs };
  if (o.failedNow && (next.failed === null || next.failed.tickMs < at.tickMs)) next.failed = at;
  if (o.endedNow && !o.anyFailed && (next.ok === null || next.ok.tickMs < at.tickMs)) next.ok = at;
  return next;
}

/**
 * Whether a mode=all tick with no host still running may close now: every
 * eligible host has joined (the usual case, at once), or the grace for late
 * joiners is over. `wait` carries when to ask again.
 */
export function mayClose(joined: readonly string[], expected: readonly string[], tickMs: number, graceMs: number, nowMs: number): { close: true } | { close: false; atMs: number } {
  const graceEndsMs = tickMs + graceMs;
  if (nowMs >= graceEndsMs || expected.every((h) => joined.includes(h))) return { close: true };
  return { close: false, atMs: graceEndsMs };
}

/** No state yet and a state with no ended tick are the same: nothing for dependents to follow. */
export function sameDone(a: JobDone | undefined, b: JobDone): boolean {
  return (a?.ok?.tickMs ?? null) === (b.ok?.tickMs ?? null) && (a?.failed?.tickMs ?? null) === (b.failed?.tickMs ?? null);
}

export function decodeTickState(text: string): TickState | null {
  try {
    const v = JSON.parse(text) as TickState;
    // States written before shards that did not run were counted have no `skipped`.
    return Number.isInteger(v.shards) && Array.isArray(v.ok) && Array.isArray(v.failed) ? { ...v, skipped: Array.isArray(v.skipped) ? v.skipped : [] } : null;
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
