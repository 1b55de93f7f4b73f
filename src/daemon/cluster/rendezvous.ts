import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest-random-weight) placement: every node computes the same
 * order of live nodes for a tick from (job, tick, node) alone, so ticks
 * spread evenly with no coordination, and when a node dies only its own
 * ticks move: to the next node in each tick's order.
 */
export function placementOrder(job: string, tickMs: number, nodes: readonly string[]): string[] {
  return [...nodes]
    .map((node) => ({ node, weight: weightOf(job, tickMs, node) }))
    .sort((a, b) => (a.weight < b.weight ? 1 : a.weight > b.weight ? -1 : a.node < b.node ? -1 : 1))
    .map((x) => x.node);
}

/**
 * How long `node` waits before claiming: the preferred node at once, the
 * next one after one handicap, and so on. Null when the node is not among
 * the eligible ones.
 */
export function claimDelay(job: string, tickMs: number, node: string, eligible: readonly string[], handicapMs: number): number | null {
  const rank = placementOrder(job, tickMs, eligible).indexOf(node);
  return rank < 0 ? null : rank * handicapMs;
}

function weightOf(job: string, tickMs: number, node: string): bigint {
  return createHash('sha256').update(`${job}\n${tickMs}\n${node}`).digest().readBigUInt64BE(0);
}
