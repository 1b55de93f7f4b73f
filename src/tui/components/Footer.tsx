import { Box } from 'ink';
import type { Tone } from '../format.js';
import { Paint } from './Paint.js';

export interface FooterProps {
  /** The keys that work here, as [key, what] pairs. */
  keys: ReadonlyArray<readonly [string, string]>;
  /** A question waiting for y/n; takes over the status line. */
  confirm: string | null;
  /** The job-name filter being typed, or null when not typing. */
  typing: string | null;
  message: { text: string; tone: Tone } | null;
}

/** Two lines: what just happened (or the prompt), then the keys that work here. */
export function Footer({ keys, confirm, typing, message }: FooterProps) {
  return (
    <Box flexDirection="column" height={2}>
      {confirm !== null ? (
        <Paint color="yellow" bold>{`${confirm} y/n`}</Paint>
      ) : typing !== null ? (
        <Paint>{`filter jobs: /${typing}█  (enter keeps it, esc clears)`}</Paint>
      ) : message ? (
        <Paint color={message.tone}>{message.text}</Paint>
      ) : (
        <Paint> </Paint>
      )}
      <Box height={1} overflow="hidden">
        {keys.map(([key, what]) => (
          <Box key={key} flexShrink={0} marginRight={2}>
            <Paint color="cyan" bold>{key}</Paint>
            <Paint dim>{` ${what}`}</Paint>
          </Box>
        ))}
      </Box>
    </Box>
  );
}
