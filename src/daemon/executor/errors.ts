import { DcronError } from '../errors.js';

/** startProcess was given options no run could honour: a bug in the caller, not a failure of the job. */
export class InvalidProcessOptionsError extends DcronError {}

/** spawn-worker.js was run other than as the daemon's spawn process (directly, or imported). */
export class SpawnWorkerMisuseError extends DcronError {}
