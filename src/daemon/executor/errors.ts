import { DcronError } from '../errors.js';

/** startProcess was given options no run could honour: a bug in the caller, not a failure of the job. */
export class InvalidProcessOptionsError extends DcronError {}
