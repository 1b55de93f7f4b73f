/** Job names: the stable id a job keeps across reloads and hosts. */
import { createHash } from 'node:crypto';

/** Names become etcd keys and file names, so no slashes, spaces or leading dots. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The name of a job without `name=`: a hash of what it does, so it stays the
 * same across reloads and on every host, and changes when the line changes.
 */
export function defaultJobName(scheduleText: string, commandText: string): string {
  const digest = createHash('sha256').update(`${scheduleText}\n${commandText}`).digest('hex');
  return `job-${digest.slice(0, 10)}`;
}
