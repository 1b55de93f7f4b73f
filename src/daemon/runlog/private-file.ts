import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { errnoCode } from '../errno.js';

/** Files SQLite keeps next to the database, which it creates with the database's mode. */
const SIDE_FILES = ['', '-wal', '-shm', '-journal'];

/**
 * Makes the database file (created now if missing) and its side files
 * readable by their owner only. They hold every job's output, and the data
 * directory may be readable by others (made by an admin, or a shared
 * `--data-dir`): SQLite creates files 0644 under the usual umask, so the
 * directory's 0700 was the only thing keeping other users out.
 */
export function makeDatabasePrivate(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const suffix of SIDE_FILES) {
    const path = file + suffix;
    try {
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o077) !== 0) chmodSync(path, mode & 0o700);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
}
