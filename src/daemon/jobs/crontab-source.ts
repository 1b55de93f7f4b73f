import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { parseCrontab } from '../crontab/parse.js';
import type { ParseResult } from '../crontab/types.js';
import { DcronError } from '../errors.js';

export class CrontabReadError extends DcronError {}

/** The reading host's zone: what a job without tz= or CRON_TZ is computed in. */
export const hostTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function readCrontab(path: string, defaultTz = hostTimeZone()): ParseResult {
  const file = resolve(path);
  return parseCrontab(readCrontabText(file), { file, defaultTz });
}

export function readCrontabText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CrontabReadError(`cannot read crontab ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}

/**
 * How long the file must be quiet before it is read. Folds the events of one
 * save (a write in place is a truncate then writes, each an event) into one
 * reload; it is also most of the latency of a reload, so it is short: a save
 * by rename is one event, and a writer that pauses longer mid-file is read
 * again once it is done anyway.
 */
const SETTLE_MS = 20;

/**
 * Calls `onChange` when the crontab may have changed. Watches the directory,
 * not the file: editors save by writing a new file and renaming it over the
 * old one, which a watch on the old inode never sees. Bursts of events from
 * one save are folded into one call.
 */
export function watchCrontab(path: string, onChange: () => void, debounceMs = SETTLE_MS): { close(): Promise<void> } {
  const file = resolve(path);
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(file), {
    depth: 0,
    ignoreInitial: true,
    ignored: (p: string) => p !== dirname(file) && basename(p) !== name,
  });
  watcher.on('all', (_event, p) => {
    if (resolve(p) !== file) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  return {
    close: async () => {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}
