import { DcronError } from '../daemon/errors.js';

/** Something the user asked for cannot be done as asked: exit 1 with this message. */
export class UserError extends DcronError {}

/** The command line itself is wrong: exit 2. */
export class UsageError extends DcronError {}
