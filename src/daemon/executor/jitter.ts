import { createHash } from 'node:crypto';

/**
 * Delay before a tick starts, in [0, jitterMs). Derived from job and tick, not
 * from randomness, so every host that could take the tick agrees on it and a
 * retried decision gives the same answer.
 */
export function jitterFor(job: string, tickMs: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  const digest = createHash('sha256').update(`${job}\n${tickMs}`).digest();
  return digest.readUInt32BE(0) % jitterMs;
}
