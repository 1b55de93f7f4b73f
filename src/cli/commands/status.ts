import type { StatusView } from '../../daemon/control/api-types.js';
import { withDaemon, type DataDirOptions } from '../context.js';
import { humanDuration, localTime } from '../format.js';
import { someNames } from '../../daemon/log.js';

export async function statusCommand(opts: DataDirOptions & { json?: boolean }): Promise<void> {
  const s = await withDaemon(opts, (c) => c.call('status'));
  if (opts.json) {
    process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    return;
  }
  const lines = [
    `dcron ${s.version}, ${s.mode}, node ${s.node}, pid ${s.pid}, up ${humanDuration(s.nowMs - s.startedMs)}`,
    `data dir: ${s.dataDir}`,
    `crontab:  ${s.crontab}`,
    `jobs:     ${s.jobs} (${s.running} running${s.paused.length > 0 ? `, ${s.paused.length} paused` : ''})`,
  ];
  if (s.paused.length > 0) lines.push(`paused:   ${someNames(s.paused).join(', ')} (dcron resume JOB)`);
  if (s.groups.length > 0) lines.push(`groups:   ${s.groups.map(groupText).join(', ')}`);
  const load = s.lastLoad;
  if (load) {
    lines.push(`loaded:   ${localTime(load.atMs)}, ${load.errors.length} error(s), ${load.warnings.length} warning(s)`);
    if (load.readError) lines.push(`  could not read the crontab: ${load.readError}`);
    for (const e of [...load.errors, ...load.warnings]) lines.push(indent(e));
    if (load.retained.length > 0) lines.push(`  kept with their previous definition until the errors are fixed: ${load.retained.join(', ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/** `etl 1/2 running (3 jobs)`; a group with no limit here says its jobs do not run on this host. */
function groupText(g: StatusView['groups'][number]): string {
  const jobs = `${g.jobs} job${g.jobs === 1 ? '' : 's'}`;
  return g.limit === null ? `${g.name} (${jobs}) has no --group ${g.name}=K here: not run on this host` : `${g.name} ${g.inUse}/${g.limit} running (${jobs})`;
}

const indent = (text: string) => text.split('\n').map((l) => '  ' + l).join('\n');

