/**
 * Concurrency groups (`#dcron group=NAME`, `dcron daemon --group NAME=K`):
 * at most K runs of a group's jobs at once, cluster-wide. A run holds one of
 * the group's K permits from its claim until its chain ends (retries
 * included). One host keeps them in memory (embedded-group-slots.ts); a
 * cluster keeps each as an etcd key under the holder's lease, so a holder
 * that dies frees its permit when its lease expires, after its runs died
 * with it (the job guard), never before (etcd/etcd-group-slots.ts).
 */
import type { EventEmitter } from 'node:events';
import type { Clock } from '../scheduler/clock.js';

/** Who holds a permit: shown by `dcron status`, and what a permit left behind is known by. */
export interface PermitHolder {
  /** The job, or shard of it, whose run holds the permit. */
  unit: string;
  tickMs: number;
}

export interface GroupPermit {
  readonly group: string;
  /**
   * Still held: in a cluster, the lease the permit was put under is still
   * this node's. False after a lease lapse replaced it: the permit went with
   * it and another run may have taken it, so a run not yet started must not start.
   */
  held(): boolean;
  /** Gives the permit back; idempotent, retried until the store answers. */
  release(): void;
}

export type GroupSlotsEvents = {
  /** A permit of the group was given back somewhere: waiters look again. */
  freed: [group: string];
};

export interface GroupSlots extends EventEmitter<GroupSlotsEvents> {
  /** A permit of `group` (limit `limit`) for `holder`, or null when all `limit` are held. */
  tryAcquire(group: string, limit: number, holder: PermitHolder): Promise<GroupPermit | null>;
  /** Permits of `group` held now, as far as this host knows. */
  inUse(group: string): number;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Resolves true once a permit of `group` is given back, false when `withinMs` passes first. */
export function waitForFreed(slots: GroupSlots, group: string, withinMs: number, clock: Pick<Clock, 'setTimer'>): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (freed: boolean) => {
      slots.off('freed', onFreed);
      timer.cancel();
      resolve(freed);
    };
    const onFreed = (g: string) => {
      if (g === group) done(true);
    };
    const timer = clock.setTimer(() => done(false), Math.max(0, withinMs));
    slots.on('freed', onFreed);
  });
}

/** Why a run could not have a permit: the group is full, or this daemon has no `--group` limit for it. */
export interface PermitRefusal {
  group: string;
  full: boolean;
  /** The figures: `2 of its 2 permits held`, or the flag this daemon lacks. */
  detail: string;
}

/** A permit of the job's group taken now, without waiting; null permit for a job in no group. */
export type PermitOutcome = { ok: true; permit: GroupPermit | null } | ({ ok: false } & PermitRefusal);

/** Takes a permit of the job's group now, without waiting: a run that cannot have one does not start (yet). */
export async function permitFor(slots: GroupSlots, limitOf: (group: string) => number | undefined, group: string | null, holder: PermitHolder): Promise<PermitOutcome> {
  if (group === null) return { ok: true, permit: null };
  const limit = limitOf(group);
  if (limit === undefined) return { ok: false, group, full: false, detail: `this daemon has no --group ${group}=K` };
  const permit = await slots.tryAcquire(group, limit, holder);
  return permit ? { ok: true, permit } : { ok: false, group, full: true, detail: `${limit} of its ${limit} permits held` };
}

/** A refusal in a record or an error: `group etl is full: 2 of its 2 permits held`. */
export function refusalText(r: PermitRefusal): string {
  return r.full ? `group ${r.group} is full: ${r.detail}` : `group ${r.group} has no limit on this host (${r.detail})`;
}
