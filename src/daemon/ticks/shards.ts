/**
 * Sharded jobs (`#dcron shards=N`): each tick of the job is N shard runs,
 * and each shard is a unit of its own for everything that decides who runs
 * what: its own cursor, fence, busy mark, failover marker and placement.
 * The unit of shard i of job `backup` is `backup/i`; an unsharded job's unit
 * is its name, so nothing changes for it. Job names cannot contain `/`, so
 * no shard's unit is another job's name.
 */
import type { Coordinator } from '../coordination/coordinator.js';
import type { JobDefinition, ShardRef } from '../crontab/types.js';

export type { ShardRef } from '../crontab/types.js';

/** The name coordination knows a job's shard by. */
export function unitOf(job: string, shard: ShardRef | null | undefined): string {
  return shard ? `${job}/${shard.index}` : job;
}

/** The job a unit belongs to, and its shard index (null: the job itself). */
export function parseUnit(unit: string): { job: string; shard: number | null } {
  const slash = unit.indexOf('/');
  return slash < 0 ? { job: unit, shard: null } : { job: unit.slice(0, slash), shard: Number(unit.slice(slash + 1)) };
}

/** Every shard a tick of the job fans out into: [null] when it is not sharded. */
export function shardsOf(job: JobDefinition): Array<ShardRef | null> {
  const count = job.options.shards;
  if (count <= 1) return [null];
  return Array.from({ length: count }, (_, index) => ({ index, count }));
}

/** The units whose cursors a job's ticks move: its name, or one per shard. */
export function unitsOf(job: JobDefinition): string[] {
  return shardsOf(job).map((s) => unitOf(job.name, s));
}

/**
 * Where a job's ticks stand: the least of its units' cursors (a shard behind
 * the others still has the tick to claim). Units without a cursor yet start
 * at `nowMs` (where the coordinator says); `fresh` tells the job had none.
 */
export async function leastCursor(coordinator: Pick<Coordinator, 'cursor' | 'startCursor'>, job: JobDefinition, nowMs: number): Promise<{ cursorMs: number; fresh: boolean }> {
  const units = unitsOf(job);
  const cursors = await Promise.all(units.map((u) => coordinator.cursor(u)));
  const started = await Promise.all(units.map((u, i) => cursors[i] ?? coordinator.startCursor(u, nowMs)));
  return { cursorMs: Math.min(...started), fresh: cursors.some((c) => c === null) };
}
