/** The ledger the chaos jobs write themselves: one line per event, `kind job tick host fence attempt trigger`. */
import { existsSync, readFileSync } from 'node:fs';

export interface LedgerEntry {
  kind: 'start' | 'end' | 'overlap';
  job: string;
  tickMs: number;
  host: string;
  fence: number;
  attempt: number;
  trigger: string;
}

export class LedgerFormatError extends Error {}

export function parseLedger(text: string, source = 'ledger'): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const f = line.split(' ');
    if (f.length !== 7 || !['start', 'end', 'overlap'].includes(f[0])) throw new LedgerFormatError(`${source}:${i + 1}: not a ledger line: ${JSON.stringify(line)}`);
    entries.push({ kind: f[0] as LedgerEntry['kind'], job: f[1], tickMs: Number(f[2]), host: f[3], fence: Number(f[4]), attempt: Number(f[5]), trigger: f[6] });
  });
  return entries;
}

export function readLedger(path: string): LedgerEntry[] {
  return existsSync(path) ? parseLedger(readFileSync(path, 'utf8'), path) : [];
}
