/**
 * The ledger the chaos jobs write themselves: one line per event,
 * `kind job tick host fence attempt trigger shard shards parent atMs`
 * (`-` for no shard or no parent tick; atMs is the wall clock when the line
 * was written). The older 7-field lines, without the last four, still read.
 * Kinds: `start`, `end` (the job's work done), `overlap` (it found its
 * overlap lock taken) and `gone` (written by the run's watcher once its last
 * process is gone, after the end line or in place of one when it was killed).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';

export interface LedgerEntry {
  kind: 'start' | 'end' | 'overlap' | 'gone';
  job: string;
  tickMs: number;
  host: string;
  fence: number;
  attempt: number;
  trigger: string;
  /** DCRON_SHARD and DCRON_SHARDS of a sharded job's run; absent otherwise. */
  shard?: number | null;
  shards?: number | null;
  /** DCRON_PARENT_TICK of a dependent job's run, as the job saw it. */
  parentTick?: string | null;
  /** When the line was written (ms since the epoch, the host's wall clock). */
  atMs?: number | null;
}

export class LedgerFormatError extends Error {}

const KINDS = ['start', 'end', 'overlap', 'gone'];
const optional = (f: string): string | null => (f === '-' || f === '' ? null : f);

export function parseLedger(text: string, source = 'ledger'): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const f = line.split(' ');
    const bad = () => new LedgerFormatError(`${source}:${i + 1}: not a ledger line: ${JSON.stringify(line)}`);
    if ((f.length !== 7 && f.length !== 11) || !KINDS.includes(f[0])) throw bad();
    const entry: LedgerEntry = { kind: f[0] as LedgerEntry['kind'], job: f[1], tickMs: Number(f[2]), host: f[3], fence: Number(f[4]), attempt: Number(f[5]), trigger: f[6] };
    if (f.length === 11) {
      const [shard, shards, parent, at] = f.slice(7).map(optional);
      entry.shard = shard === null ? null : Number(shard);
      entry.shards = shards === null ? null : Number(shards);
      entry.parentTick = parent;
      entry.atMs = at === null ? null : Number(at);
      if ([entry.shard, entry.shards, entry.atMs].some((n) => n !== null && !Number.isInteger(n))) throw bad();
    }
    entries.push(entry);
  });
  return entries;
}

export function readLedger(path: string): LedgerEntry[] {
  return existsSync(path) ? parseLedger(readFileSync(path, 'utf8'), path) : [];
}

/**
 * Reads a ledger as it grows, for scenarios that act on what the jobs do
 * (kill a host while a shard runs on it, or just after a parent's tick
 * ended): each read parses only the whole lines appended since the last.
 */
export class LedgerTail {
  private offset = 0;
  private partial = '';
  private lineNo = 0;
  readonly entries: LedgerEntry[] = [];

  constructor(readonly path: string) {}

  /** The entries appended since the last read (also kept in `entries`). */
  read(): LedgerEntry[] {
    const fd = openSync(this.path, 'r');
    let text = '';
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (let n; (n = readSync(fd, buf, 0, buf.length, this.offset)) > 0; ) {
        this.offset += n;
        text += buf.toString('utf8', 0, n);
      }
    } finally {
      closeSync(fd);
    }
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    const fresh = lines.length === 0 ? [] : parseLedger(lines.join('\n'), `${this.path} after line ${this.lineNo}`);
    this.lineNo += lines.length;
    this.entries.push(...fresh);
    return fresh;
  }
}
