import { Box } from 'ink';
import type { RunRecord } from '../../daemon/runlog/types.js';
import { shortId } from '../format.js';
import { OutputLines } from './OutputLines.js';
import { Paint } from './Paint.js';

export interface OutputTailProps {
  run: RunRecord | null;
  lines: readonly string[];
  height: number;
}

/** The last lines of the selected live run, under the list of runs. */
export function OutputTail({ run, lines, height }: OutputTailProps) {
  const rows = Math.max(1, height - 1);
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Paint dim>{run ? `── output of ${run.job} ${shortId(run.id)} (enter: full log) ──` : '── output ──'}</Paint>
      <OutputLines lines={lines} start={Math.max(0, lines.length - rows)} height={rows} />
    </Box>
  );
}
