import { Box } from 'ink';
import { Paint } from './Paint.js';

export interface OutputLinesProps {
  lines: readonly string[];
  /** Index into `lines` of the first line shown. */
  start: number;
  height: number;
}

/** A window of output lines; long lines are cut with … rather than wrapped. */
export function OutputLines({ lines, start, height }: OutputLinesProps) {
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      {lines.slice(start, start + height).map((line, i) => (
        <Paint key={start + i}>{line === '' ? ' ' : line}</Paint>
      ))}
    </Box>
  );
}
