/** Base of every error dcron raises on purpose; tests assert the class, not the text. */
export class DcronError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A request named a job the daemon does not have. */
export class UnknownJobError extends DcronError {
  constructor(readonly job: string) {
    super(`no job named '${job}' (see 'dcron ls')`);
  }
}

/** A request named a run the run log does not have. */
export class UnknownRunError extends DcronError {
  constructor(readonly runId: string) {
    super(`no run with id '${runId}' (see 'dcron history')`);
  }
}

/** `logs --shard I` named a shard the job does not have, or has not run yet. */
export class NoShardRunError extends DcronError {
  /** `shards`: the job's shard count when the daemon knows the job, else null. */
  constructor(readonly job: string, readonly shard: number, readonly shards: number | null) {
    super(
      shards === 1
        ? `${job} is not sharded (no shards= option): leave out --shard`
        : shards !== null && shard >= shards
          ? `${job} has ${shards} shards, numbered 0-${shards - 1}: there is no shard ${shard}`
          : `${job} has no run of shard ${shard} yet (dcron history ${job} --shards lists its shard runs)`,
    );
  }
}

/** The request was understood but is not allowed as asked (bad params, wrong state). */
export class InvalidRequestError extends DcronError {}

/** No daemon answers on the control socket. */
export class DaemonUnreachableError extends DcronError {}

/** Another daemon already serves this data directory. */
export class DataDirInUseError extends DcronError {}

/** An error the daemon reported for a request; `code` is its class name there. */
export class RemoteError extends DcronError {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** `run --tick` / `backfill` named an instant that is not one of the job's ticks. */
export class NotATickError extends InvalidRequestError {
  constructor(readonly job: string, readonly tickMs: number, readonly before: number | null, readonly after: number | null) {
    const near = [before, after].filter((t): t is number => t !== null).map((t) => new Date(t).toISOString());
    super(`${new Date(tickMs).toISOString()} is not a tick of ${job}${near.length > 0 ? `; the nearest are ${near.join(' and ')}` : ''} (dcron next shows a schedule's ticks)`);
  }
}

/** A backfill asked for a tick that has not come yet: the scheduler runs it then. */
export class FutureTickError extends InvalidRequestError {
  constructor(readonly job: string, readonly tickMs: number) {
    super(`${new Date(tickMs).toISOString()} is in the future: ${job}'s scheduler runs that tick when it comes (dcron run ${job} runs the job now)`);
  }
}

/** The job cannot be backfilled at all (no fixed schedule, after=, mode=all), or the range is unusable. */
export class NotBackfillableError extends InvalidRequestError {}

/** A backfill range with more ticks than one backfill may run, or an empty or reversed one. */
export class BackfillRangeError extends InvalidRequestError {}

/** `dcron run` of a job whose concurrency group has no permit free (or no limit on the host asked): nothing started. */
export class GroupFullError extends InvalidRequestError {
  constructor(readonly job: string, why: string, full: boolean) {
    super(`${job} not started: ${why}${full ? "; try again when one of the group's runs ends (dcron status shows the group)" : ''}`);
  }
}
