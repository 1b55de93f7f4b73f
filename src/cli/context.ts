import { resolve } from 'node:path';
import { Option } from 'commander';
import { ControlClient } from '../daemon/control/client.js';
import { defaultDataDir, socketPath } from '../daemon/paths.js';

export interface DataDirOptions {
  dataDir?: string;
}

/** `--data-dir` on every command, defaulting to DCRON_DATA_DIR, then the per-user default. */
export const dataDirOption = (): Option =>
  new Option('--data-dir <dir>', 'data directory of the daemon to talk to (env DCRON_DATA_DIR)').default(undefined, defaultDataDir());

export const resolveDataDir = (opts: DataDirOptions): string => (opts.dataDir ? resolve(opts.dataDir) : defaultDataDir());

/** Connects to the local daemon, runs `fn`, and closes the connection. */
export async function withDaemon<T>(opts: DataDirOptions, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(socketPath(resolveDataDir(opts)));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
