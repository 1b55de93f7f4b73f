import { Box } from 'ink';
import { Paint } from './Paint.js';

export interface HelpOverlayProps {
  height: number;
}

const help: ReadonlyArray<readonly [string, string]> = [
  ['↑ ↓  j', 'move the cursor (pgup/pgdn a page, home/end the ends)'],
  ['tab', 'next view: Jobs, Runs (live), History, Nodes (shift-tab back)'],
  ['enter', 'on a job: its runs · on a run: its output, live'],
  ['r', 'run the selected job now'],
  ['p', 'pause the selected job on every host, or resume it (Jobs view)'],
  ['k', 'kill the selected run, or the selected job\'s runs (asks y/n)'],
  ['/', 'filter by job name as you type · enter keeps it · esc clears'],
  ['esc', 'back: close the log, leave a job\'s runs, clear the filter'],
  ['in a log', '↑ ↓ scroll · pgup/pgdn page · end follows new output again'],
  ['?', 'this help (any key closes it)'],
  ['q', 'quit (ctrl-c too)'],
];

export function HelpOverlay({ height }: HelpOverlayProps) {
  return (
    <Box flexDirection="column" height={height} overflow="hidden" borderStyle="round" paddingX={1}>
      <Paint bold>dcron tui: keys</Paint>
      {help.map(([key, what]) => (
        <Box key={key} height={1}>
          <Box width={10} flexShrink={0}>
            <Paint color="cyan" bold>{key}</Paint>
          </Box>
          <Paint>{what}</Paint>
        </Box>
      ))}
      <Paint dim>Nothing here changes the crontab: r and k act on runs only.</Paint>
    </Box>
  );
}
