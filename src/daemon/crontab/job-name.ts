/** Job names: the stable id a job keeps across reloads and hosts. */
import * as crypto from 'node:crypto';

/** Names become etcd keys and file names, so no slashes, spaces or leading dots. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The name of a job without `name=`: a hash of what it does, so it stays the
 * same across reloads and on every host, and changes when the line changes.
 */
export function defaultJobName(scheduleText: string, commandText: string): string {
  return `job-${sha256Hex(`${scheduleText}\n${commandText}`).slice(0, 10)}`;
}

/**
 * crypto.hash (Node 20.12) is the one-shot form, about twice as fast as a
 * Hash object; with 100,000 unnamed jobs that is a visible part of a load.
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

function sha256Hex(text: string): string {
  return oneShotHash ? oneShotHash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}
