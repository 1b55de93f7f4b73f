import { Box } from 'ink';
import { Paint } from './Paint.js';

export interface BannerProps {
  connected: boolean;
  error: string | null;
  retryAtMs: number | null;
  nowMs: number;
}

/** Lines the banner takes, so the view below can be sized to fit. */
export const bannerHeight = ({ connected, error }: Pick<BannerProps, 'connected' | 'error'>): number => (connected ? 0 : error === null ? 1 : 3);

/**
 * Says plainly that what is on screen may be stale, why, and when the next
 * attempt is. The reason gets two lines of its own: socket paths are long and
 * the useful part ("connection refused") comes last.
 */
export function Banner({ connected, error, retryAtMs, nowMs }: BannerProps) {
  if (connected) return null;
  if (error === null) return <Paint color="yellow">connecting to the daemon…</Paint>;
  const retry = retryAtMs === null ? 'retrying' : `retrying in ${Math.max(0, Math.ceil((retryAtMs - nowMs) / 1000))}s`;
  return (
    <Box flexDirection="column" height={3} overflow="hidden">
      <Paint color="red" bold inverse>{` ✖ daemon unreachable · ${retry} · data below may be stale `}</Paint>
      <Box height={2} overflow="hidden">
        <Paint color="red" wrap="wrap">{error}</Paint>
      </Box>
    </Box>
  );
}
