import type { RunRecord } from '../../daemon/runlog/types.js';
import { runName } from '../../cli/format.js';
import { runDuration, shortId } from '../format.js';
import { Table } from './Table.js';

export interface LiveRunListProps {
  runs: readonly RunRecord[];
  cursor: number;
  height: number;
  width: number;
  nowMs: number;
}

const columns = [{ title: 'JOB' }, { title: 'HOST', width: 14 }, { title: 'RUN', width: 10, optional: true }, { title: 'TRIGGER', width: 9, optional: true }, { title: 'ELAPSED', width: 8 }];

export function LiveRunList({ runs, cursor, height, width, nowMs }: LiveRunListProps) {
  return (
    <Table
      title="Live runs"
      columns={columns}
      items={runs}
      cursor={cursor}
      height={height}
      width={width}
      empty="nothing running (select a job in Jobs and press r to start one)"
      cells={(run) => [runName(run), run.host, shortId(run.id), run.trigger, { text: runDuration(run, nowMs), tone: 'cyan' }]}
    />
  );
}
