import { DcronError } from '../errors.js';

/** startProcess was given options no run could honour: a bug in the caller, not a failure of the job. */
export class InvalidProcessOptionsError extends DcronError {}

/** spawn-worker.js was loaded outside a worker thread (run directly, or imported). */
export class SpawnWorkerMisuseError extends DcronError {}
