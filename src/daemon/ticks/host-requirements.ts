/**
 * Whether this host meets a job's `requires=` (pure): every term compared
 * with the host's figures (ticks/host-figures.ts). A host that does not
 * meet it passes the tick on, as a host without a free slot does.
 */
import type { HostRequirement } from '../crontab/types.js';
import { writeRequirement } from '../crontab/option-values.js';
import { formatBytes } from '../crontab/size.js';
import type { HostFigures } from './host-figures.js';

/**
 * Null when `figures` meet every term of `requires` (or it is null: any host
 * will do); otherwise why not, one clause per term that fails, e.g.
 * `free memory 1.2 GiB, the job requires mem>=2GiB`. A figure the host could
 * not read (its data dir's free disk) meets no term.
 */
export function unmetRequirement(requires: readonly HostRequirement[] | null, figures: HostFigures): string | null {
  if (requires === null) return null;
  const unmet: string[] = [];
  for (const term of requires) {
    const have = figureOf(term, figures);
    if (have !== null && holds(have, term)) continue;
    unmet.push(`${describe(term, have)}, the job requires ${writeRequirement(term)}`);
  }
  return unmet.length === 0 ? null : unmet.join('; ');
}

function figureOf(term: HostRequirement, figures: HostFigures): number | null {
  switch (term.figure) {
    case 'mem':
      return figures.memFreeBytes;
    case 'load':
      return figures.load1;
    case 'disk':
      return figures.diskFreeBytes;
  }
}

function holds(have: number, { op, value }: HostRequirement): boolean {
  switch (op) {
    case '>=':
      return have >= value;
    case '>':
      return have > value;
    case '<=':
      return have <= value;
    case '<':
      return have < value;
  }
}

const FIGURE_WORDS = { mem: 'free memory', load: '1-minute load', disk: 'free disk of the data dir' } as const;

/** `free memory 1.2 GiB`; exact when rounding would make the figure read as the bound it misses. */
function describe(term: HostRequirement, have: number | null): string {
  const words = FIGURE_WORDS[term.figure];
  if (have === null) return `${words} unknown (it could not be read)`;
  if (term.figure === 'load') {
    const shown = have.toFixed(2);
    return `${words} ${Number(shown) === term.value ? String(have) : shown}`;
  }
  const shown = formatBytes(have);
  return `${words} ${shown === formatBytes(term.value) ? `${shown} (${have} bytes)` : shown}`;
}
