import { connect } from 'node:net';
import { unlinkSync } from 'node:fs';
import { DataDirInUseError } from '../errors.js';

/**
 * Makes sure no other daemon serves this data directory. A socket file that
 * nobody answers on was left by a daemon that died (kill -9): remove it.
 */
export async function claimSocket(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new DataDirInUseError(`another dcron daemon is already running with this data directory (socket ${path}); stop it or pass a different --data-dir`);
  try {
    unlinkSync(path);
  } catch {
    // no stale socket
  }
}
