import type { ClaimOutcome, ClaimRequest } from '../coordination/coordinator.js';
import type { Clock } from '../scheduler/clock.js';
import { DcronError } from '../errors.js';

/**
 * A claim sent to etcd failed in transit, and no later attempt while the
 * tick was on time could say whether it committed. If it did, the tick is
 * this node's and nobody else's: the caller must record it, not drop it.
 */
export class ClaimOutcomeUnknownError extends DcronError {}

export interface ClaimRetryOptions {
  claim: (request: ClaimRequest) => Promise<ClaimOutcome>;
  clock: Pick<Clock, 'now'>;
  /** How long after its tick a claim is still on time. */
  lateGraceMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Each attempt that threw; `retrying` when the tick is still on time. */
  onError?: (err: unknown, attempt: number, retrying: boolean) => void;
}

/**
 * Claims a tick, retrying while it is on time. A claim that failed in
 * transit may have committed: the same request is retried (the coordinator
 * recognises its own commit) rather than given up to a peer that may be
 * failing too. A lease unproven for a moment (a stalled event loop) is
 * retried as well, but 'unproven' never answers an earlier failure: the
 * refusal comes before etcd is asked, so after a lost reply it would leave
 * a committed claim with no run and no record (seen when two of three etcd
 * members were killed mid-claim).
 */
export async function claimWithRetry(request: ClaimRequest, opts: ClaimRetryOptions, dueMs = request.tickMs): Promise<ClaimOutcome> {
  // A dependent job's tick is its parents' tick, but it came due when they ended (dueMs).
  const onTime = () => opts.clock.now() - dueMs <= opts.lateGraceMs;
  let inTransit: unknown = null;
  for (let attempt = 1; ; attempt++) {
    try {
      const outcome = await opts.claim(request);
      if (outcome.outcome !== 'unproven') return outcome;
      if (!onTime()) {
        if (inTransit === null) return outcome;
        throw new ClaimOutcomeUnknownError(`a claim failed in transit (${(inTransit as Error).message}) and this node's lease stayed unproven until the tick was late`, { cause: inTransit });
      }
    } catch (err) {
      if (err instanceof ClaimOutcomeUnknownError) throw err;
      const retrying = onTime();
      opts.onError?.(err, attempt, retrying);
      if (!retrying) throw err;
      inTransit = err;
    }
    await opts.sleep(Math.min(50 * 2 ** attempt, 1000));
  }
}
