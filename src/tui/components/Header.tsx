import { Box } from 'ink';
import type { StatusView } from '../../daemon/control/api-types.js';
import { Paint } from './Paint.js';

export interface HeaderProps {
  status: StatusView | null;
  tabs: readonly string[];
  active: number;
}

/** Who we are watching, and the views; the active one is bracketed so it shows without colour too. */
export function Header({ status, tabs, active }: HeaderProps) {
  const about = status ? `dcron · ${status.node}${status.mode === 'cluster' ? ' (cluster)' : ''} · ${status.jobs} jobs · ${status.running} running` : 'dcron';
  return (
    <Box height={1}>
      <Box flexGrow={1} flexShrink={1} flexBasis={0} marginRight={1}>
        <Paint bold>{about}</Paint>
      </Box>
      <Box flexShrink={0}>
        {tabs.map((tab, i) => (
          <Paint key={tab} color={i === active ? 'cyan' : undefined} bold={i === active} dim={i !== active}>
            {i === active ? `[${tab}]` : ` ${tab} `}
          </Paint>
        ))}
      </Box>
    </Box>
  );
}
