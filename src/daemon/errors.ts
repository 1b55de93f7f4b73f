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
