/**
 * Busy transfer: whether this host has room for a tick before it claims it,
 * and what it does when it has none. Room is three things, looked at in this
 * order: the job's `requires=` (the host's free memory, load, disk), this
 * host's `--slots`, and the job's concurrency group (`group=`, a permit of
 * the group's `--group NAME=K`, cluster-wide).
 *
 * A host without room does not claim: the next host in the tick's
 * rendezvous order claims it after its handicap, as it would for a dead
 * host. The host without room waits until a peer claims the tick, room
 * appears here (then it runs the tick, late but within the grace), or the
 * late grace ends; then it claims the tick only to record it skipped, with
 * why, so exactly one host records it and no tick is lost without a trace.
 */
import type { JobDefinition } from '../crontab/types.js';
import { permitFor, waitForFreed, type GroupPermit, type GroupSlots, type PermitOutcome } from '../coordination/group-slots.js';
import type { Logger } from '../log.js';
import type { Clock } from '../scheduler/clock.js';
import type { HostCapacity } from './host-capacity.js';

/** What a host may lack for a tick, and the figures behind it. */
export interface Lack {
  what: 'requires' | 'slots' | 'group' | 'group-limit';
  /** `group=` for the group lacks. */
  group?: string;
  detail: string;
}

/** What a tick found: room held here, a peer that took it, or no room anywhere within the late grace. */
export type Room =
  | { kind: 'held'; permit: GroupPermit | null; releaseSlots: () => void }
  | { kind: 'taken' }
  | { kind: 'none'; lack: Lack };

/** The reason a tick no host had room for is recorded skipped with; `sharesTicks`: in a cluster. */
export function noRoomReason(lack: Lack, sharesTicks: boolean, lateGraceMs: number): string {
  const grace = `within the late grace (${lateGraceMs} ms)`;
  if (lack.what === 'group') return `group ${lack.group} is full: ${sharesTicks ? 'no host could take a permit' : 'no permit came free'} ${grace}; ${lack.detail}`;
  const headline = {
    requires: sharesTicks ? 'no host meets the job\'s requires=' : 'this host does not meet the job\'s requires=',
    slots: sharesTicks ? 'no free slot on any host' : 'no free slot on this host',
    'group-limit': sharesTicks ? `no host with room has a limit for group ${lack.group}` : `group ${lack.group} has no limit on this host`,
  }[lack.what];
  return sharesTicks ? `${headline}: no other host claimed it ${grace}; here, ${lack.detail}` : `${headline} ${grace}: ${lack.detail}`;
}

/** The tick being placed: its job, the unit claimed, and when it came due. */
export interface RoomRequest {
  job: JobDefinition;
  unit: string;
  tickMs: number;
  dueMs: number;
}

export interface TickRoomOptions {
  capacity: HostCapacity;
  groups: GroupSlots;
  /** This daemon's `--group NAME=K`; undefined: no limit known here for the group, so no run of it here. */
  groupLimit: (group: string) => number | undefined;
  /** Why this host does not meet the job's `requires=` now; null when it does. */
  unmetRequirement: (job: JobDefinition) => string | null;
  /** Resolves true once a peer claimed the tick (or passed it over), false when `withinMs` passes. */
  takenElsewhere: ((unit: string, tickMs: number, withinMs: number) => Promise<boolean>) | null;
  clock: Clock;
  lateGraceMs: number;
  log: Logger;
  onStoreError: () => void;
}

/** Host figures (memory, load) change without an event: a host short of them looks again this often. */
const REQUIREMENT_RECHECK_MS = 500;
/** A group permit request etcd did not answer is asked again after this long, within the grace. */
const GROUP_RETRY_MS = 200;

/** Room that holds nothing: a job that needs none, or a tick that runs nothing (paused). */
export const ALWAYS_ROOM: Room = Object.freeze({ kind: 'held', permit: null, releaseSlots: () => {} });

export class TickRoom {
  constructor(private readonly opts: TickRoomOptions) {}

  /** Room for the tick here, held until the caller releases it (slots) or hands the permit to the run. */
  async find(t: RoomRequest): Promise<Room> {
    const { opts } = this;
    if (!opts.capacity.limited && t.job.options.group === null && t.job.options.requires === null) return ALWAYS_ROOM;
    const deadline = t.dueMs + opts.lateGraceMs;
    // Asked once: a peer's claim ends the wait whichever lack this host is waiting out.
    let taken: Promise<'taken'> | null = null;
    for (let passes = 0; ; passes++) {
      const attempt = await this.tryHold(t);
      if (attempt.kind === 'held') return attempt;
      const remaining = deadline - opts.clock.now();
      if (remaining <= 0) return { kind: 'none', lack: attempt.lack };
      if (passes === 0) opts.log.debug('no room for the tick here: passing it on', { job: t.unit, tick: t.tickMs, why: attempt.lack.detail });
      taken ??= opts.takenElsewhere ? opts.takenElsewhere(t.unit, t.tickMs, remaining).then((yes) => (yes ? 'taken' : new Promise<never>(() => {}))) : new Promise<never>(() => {});
      const outcome = await Promise.race([taken, attempt.wait(remaining)]);
      if (outcome === 'taken') return { kind: 'taken' };
    }
  }

  /** One look: room held, or why not and what to wait for before looking again. */
  private async tryHold(t: RoomRequest): Promise<Extract<Room, { kind: 'held' }> | { kind: 'wait'; lack: Lack; wait: (withinMs: number) => Promise<unknown> }> {
    const { opts } = this;
    const { job } = t;
    const unmet = opts.unmetRequirement(job);
    if (unmet !== null) return { kind: 'wait', lack: { what: 'requires', detail: unmet }, wait: (ms) => this.sleep(Math.min(ms, REQUIREMENT_RECHECK_MS)) };
    const slots = job.options.slots;
    const releaseSlots = opts.capacity.tryHold(slots);
    if (releaseSlots === null) {
      return { kind: 'wait', lack: { what: 'slots', detail: `${opts.capacity.used()} of this host's ${opts.capacity.total} slots in use, the job needs ${slots}` }, wait: (ms) => opts.capacity.waitForRoom(slots, ms, opts.clock) };
    }
    let got: PermitOutcome;
    try {
      got = await permitFor(opts.groups, opts.groupLimit, job.options.group, { unit: t.unit, tickMs: t.tickMs });
    } catch (err) {
      releaseSlots();
      opts.onStoreError();
      opts.log.warn('could not take a group permit; asking again within the late grace', { job: t.unit, group: job.options.group, err });
      return { kind: 'wait', lack: { what: 'group', group: job.options.group!, detail: `etcd did not answer (${(err as Error).message})` }, wait: (ms) => this.sleep(Math.min(ms, GROUP_RETRY_MS)) };
    }
    if (got.ok) return { kind: 'held', permit: got.permit, releaseSlots };
    releaseSlots();
    const { group, full, detail } = got;
    // No limit here cannot change while the daemon runs: only a peer's claim ends that wait.
    if (!full) return { kind: 'wait', lack: { what: 'group-limit', group, detail }, wait: (ms) => this.sleep(ms) };
    return { kind: 'wait', lack: { what: 'group', group, detail }, wait: (ms) => waitForFreed(opts.groups, group, ms, opts.clock) };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.opts.clock.setTimer(resolve, ms));
  }
}
