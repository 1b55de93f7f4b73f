/**
 * Who runs a tick. The scheduler and executor talk only to this interface; the
 * embedded single-host store and the etcd cluster store implement it.
 */

export interface ClaimRequest {
  job: string;
  tickMs: number;
  /** overlap=skip across hosts: the claim also takes the job's busy mark, released when the run chain ends. */
  holdBusy: boolean;
  /** mode=all: each host claims its own copy of the tick. */
  perHost: boolean;
  /**
   * Claimed ahead of the tick (see TickScheduler's leadMs). With holdBusy, a
   * busy mark held now may be released before the tick is due: then nothing
   * changes and the outcome is 'notYet', and the claim is made again at the tick.
   */
  early?: boolean;
}

export type ClaimOutcome =
  /**
   * Ours to run; `fence` becomes DCRON_FENCE and strictly increases per job.
   * `previousTickMs` is where the cursor stood: ticks between it and this one
   * were never claimed by anyone (every node unproven, etcd unreachable), and
   * the winner records them. Undefined where the store cannot tell.
   * `busyMarkGone` (holdBusy only): the busy mark the claim took was bound to
   * a lease replaced before the answer came, so it is gone and another host
   * may start the job: running this tick could overlap that run.
   */
  | { outcome: 'claimed'; fence: number; previousTickMs?: number | null; busyMarkGone?: boolean }
  /** Another host (or an earlier attempt) has it, or it is at/before the cursor. */
  | { outcome: 'taken' }
  /** The job runs elsewhere with overlap=skip: this host won the right to record the tick as skipped. */
  | { outcome: 'busy'; fence: number; holder: string; previousTickMs?: number | null }
  /** This host cannot prove its lease is alive, so it claims nothing. */
  | { outcome: 'unproven' }
  /** An early claim (see ClaimRequest.early) found the job busy: nothing changed; claim again when the tick is due. */
  | { outcome: 'notYet' };

export interface CursorScope {
  /** mode=all: the host's own cursor instead of the job's shared one. */
  perHost?: boolean;
}

export interface Coordinator {
  /**
   * Claim a tick. Succeeds only when the tick is later than the job's cursor
   * (the last tick claimed) and moves the cursor to it, so a tick can never
   * be claimed twice, by this host or any other.
   */
  claim(request: ClaimRequest): Promise<ClaimOutcome>;
  /** Give back the busy mark taken by a claim with holdBusy (no-op if not ours any more). */
  releaseBusy(job: string, fence: number): Promise<void>;
  /** A fresh fence for a run that is not a new tick (manual run, retry). */
  nextFence(job: string): Promise<number>;
  /** The job's cursor (this host's own with perHost, for mode=all): last tick claimed or passed over; null if never. */
  cursor(job: string, scope?: CursorScope): Promise<number | null>;
  /**
   * Starts the cursor of a job that has none (`cursor()` gave null) and
   * returns the instant it starts from: the job is scheduled from there.
   * On one host that is `nowMs`. In a cluster it is when the job entered the
   * shared list, the same instant on every node: a node that learns of the
   * job later must not start it later, or its cursor, landing first, would
   * pass over a tick a peer is about to claim, and that tick would run nowhere.
   */
  startCursor(job: string, nowMs: number, scope?: CursorScope): Promise<number>;
  /**
   * Move the cursor forward to `tickMs` without running (missed ticks, new
   * jobs). True when this call moved it: that host records what was passed over.
   */
  advanceCursor(job: string, tickMs: number, scope?: CursorScope): Promise<boolean>;
  /**
   * A node ranked after others for a tick waits its placement delay before
   * claiming; this waits up to `withinMs` and resolves true as soon as the
   * tick is known to be claimed (or passed over) by another node, so the
   * claim, certain to fail, is not sent. False when time ran out or the
   * store cannot tell: then claim, and the claim decides.
   */
  takenElsewhere(job: string, tickMs: number, withinMs: number): Promise<boolean>;
  /**
   * Runs `work` (a burst of cursor reads and writes, e.g. scheduling every
   * job at boot) with the coordinator's storage writes grouped where that is
   * cheaper. It must not change what any call means.
   */
  batch<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Whether this host may act on what it claimed: start a claimed tick, or a
   * run that waited (claim lead, jitter, a retry's delay). In a cluster, false
   * while its etcd lease is unproven, since a peer may then take its ticks.
   */
  mayAct(): boolean;
  /**
   * failover=rerun: the right to run `tickMs` again after its host died
   * mid-run, won by exactly one node. Null: another node won it, or there is
   * nobody to fail over from (one host).
   */
  claimFailover(job: string, tickMs: number): Promise<{ fence: number } | null>;
  close(): Promise<void>;
}
