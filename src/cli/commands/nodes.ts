import type { NodeView } from '../../daemon/control/api-types.js';
import { withDaemon, type DataDirOptions } from '../context.js';
import { humanDuration, table } from '../format.js';
import { formatBytes } from '../../daemon/crontab/size.js';

export async function nodesCommand(opts: DataDirOptions & { json?: boolean }): Promise<void> {
  const nodes = await withDaemon(opts, (c) => c.call('nodes'));
  if (opts.json) {
    process.stdout.write(JSON.stringify(nodes, null, 2) + '\n');
    return;
  }
  const rows = nodes.map((n) => [
    n.id + (n.self ? ' *' : ''),
    n.healthy ? 'ok' : 'unproven lease',
    `${Math.round(n.skewMs)}ms${Math.abs(n.skewMs) > 500 ? ' (!)' : ''}`,
    String(n.running),
    n.slots === null ? '-' : n.slots.total === 0 ? `${n.slots.used}/no limit` : `${n.slots.used}/${n.slots.total}`,
    ...figureCells(n),
    humanDuration(n.uptimeMs),
    Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    n.version,
  ]);
  process.stdout.write(table(['NODE', 'HEALTH', 'SKEW', 'RUNNING', 'SLOTS', 'MEM FREE', 'LOAD', 'DISK FREE', 'UP', 'LABELS', 'VERSION'], rows) + '\n');
  if (nodes.some((n) => Math.abs(n.skewMs) > 500)) process.stdout.write('\n(!) clock skew over 500 ms: check NTP on that host\n');
}

/** MEM FREE, LOAD, DISK FREE: what `requires=` compares; `-` for a node of an older version, `?` for a disk it could not read. */
function figureCells({ figures: f }: NodeView): string[] {
  if (f === null) return ['-', '-', '-'];
  return [formatBytes(f.memFreeBytes), f.load1.toFixed(2), f.diskFreeBytes === null ? '?' : formatBytes(f.diskFreeBytes)];
}
