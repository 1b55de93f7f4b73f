import { Box } from 'ink';
import type { RunRecord } from '../../daemon/runlog/types.js';
import { runName } from '../../cli/format.js';
import { runDuration, shortId, statusTone } from '../format.js';
import { OutputLines } from './OutputLines.js';
import { Paint } from './Paint.js';

export interface LogViewProps {
  runId: string;
  job: string;
  /** Null until the stream's first event. */
  run: RunRecord | null;
  lines: readonly string[];
  /** Absolute number of lines[0]: older lines fell out of the scrollback. */
  first: number;
  /** Absolute number of the top line shown, or null to follow the end. */
  top: number | null;
  height: number;
  nowMs: number;
  error: string | null;
}

/** Where the window starts, clamped to the lines still held. */
function logWindowTop(top: number | null, first: number, count: number, rows: number): number {
  const last = first + Math.max(0, count - rows);
  return top === null ? last : Math.max(first, Math.min(top, last));
}

export function LogView({ runId, job, run, lines, first, top, height, nowMs, error }: LogViewProps) {
  const rows = Math.max(1, height - 2);
  const shownTop = logWindowTop(top, first, lines.length, rows);
  const end = Math.min(shownTop + rows, first + lines.length);
  const where = top === null ? 'following' : `lines ${shownTop + 1}-${end} of ${first + lines.length}, end to follow`;
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Box height={1}>
        <Paint bold>{`Log of ${run ? runName(run) : job} run ${shortId(runId)}${run ? ` on ${run.host} · ` : ' · '}`}</Paint>
        {run && <Paint color={statusTone[run.status]}>{`${run.status} ${runDuration(run, nowMs)}`}</Paint>}
      </Box>
      <OutputLines lines={lines} start={shownTop - first} height={rows} />
      {error ? (
        <Paint color="red">{`output stream lost: ${error} (reconnecting)`}</Paint>
      ) : (
        <Paint dim>{lines.length === 0 ? (run ? 'no output yet' : 'loading…') : `${where}${first > 0 ? ` · older lines: dcron logs ${job} --run ${runId}` : ''}`}</Paint>
      )}
    </Box>
  );
}
