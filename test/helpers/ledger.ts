import { existsSync, readFileSync } from 'node:fs';

/**
 * What jobs appended to a ledger file (`echo "start j1 $DCRON_TICK_MS" >> FILE`),
 * each line as its space-separated words; none before the first line is written.
 */
export function ledgerWords(path: string): string[][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '));
}
