import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where a daemon keeps its database and control socket. Root gets the FHS
 * place; other users get the XDG state directory, so two users on one host
 * each run their own daemon without colliding.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DCRON_DATA_DIR) return resolve(env.DCRON_DATA_DIR);
  if (process.getuid?.() === 0) return '/var/lib/dcron';
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'dcron');
}

export const socketPath = (dataDir: string): string => join(dataDir, 'dcron.sock');
export const databasePath = (dataDir: string): string => join(dataDir, 'dcron.db');
