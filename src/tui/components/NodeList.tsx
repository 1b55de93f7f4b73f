import type { NodeView } from '../../daemon/control/api-types.js';
import { humanDuration } from '../../cli/format.js';
import { Table } from './Table.js';

export interface NodeListProps {
  nodes: readonly NodeView[];
  cursor: number;
  height: number;
  width: number;
}

const columns = [{ title: 'NODE' }, { title: 'HEALTH', width: 15 }, { title: 'SKEW', width: 10 }, { title: 'RUNNING', width: 7 }, { title: 'UP', width: 8, optional: true }, { title: 'VERSION', width: 8, optional: true }];

/** Past this, ticks may fire visibly early or late on that host. */
const SKEW_WARN_MS = 500;

export function NodeList({ nodes, cursor, height, width }: NodeListProps) {
  return (
    <Table
      title="Nodes"
      columns={columns}
      items={nodes}
      cursor={cursor}
      height={height}
      width={width}
      empty="no nodes known yet"
      cells={(n) => {
        const skewed = Math.abs(n.skewMs) > SKEW_WARN_MS;
        return [
          n.id + (n.self ? ' (this)' : ''),
          n.healthy ? { text: 'lease ok', tone: 'green' } : { text: 'lease unproven', tone: 'red' },
          { text: `${Math.round(n.skewMs)}ms${skewed ? ' !' : ''}`, tone: skewed ? 'yellow' : undefined },
          String(n.running),
          humanDuration(n.uptimeMs),
          n.version,
        ];
      }}
    />
  );
}
