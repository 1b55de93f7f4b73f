import { hasStarted, type RunRecord } from '../../daemon/runlog/types.js';
import { localTime, runName } from '../../cli/format.js';
import { runDuration, shortId, statusTone } from '../format.js';
import { Table } from './Table.js';

export interface HistoryListProps {
  runs: readonly RunRecord[];
  cursor: number;
  height: number;
  width: number;
  nowMs: number;
  /** Only this job's runs are listed. */
  job: string | null;
}

const columns = [{ title: 'JOB' }, { title: 'STATUS', width: 8 }, { title: 'STARTED', width: 19, optional: true }, { title: 'TOOK', width: 7 }, { title: 'EXIT', width: 7, optional: true }, { title: 'HOST', width: 10, optional: true }];

const exitOf = (run: RunRecord): string => (run.exitCode !== null ? String(run.exitCode) : (run.signal ?? '-'));

export function HistoryList({ runs, cursor, height, width, nowMs, job }: HistoryListProps) {
  return (
    <Table
      title={job ? `Runs of ${job} (esc: all jobs)` : 'History'}
      columns={columns}
      items={runs}
      cursor={cursor}
      height={height}
      width={width}
      empty={job ? `${job} has no recent runs (press r to run it now)` : 'no runs recorded yet'}
      cells={(run) => [
        `${runName(run)} ${shortId(run.id)}`,
        { text: run.status, tone: statusTone[run.status] },
        localTime(run.startedMs),
        hasStarted(run) ? runDuration(run, nowMs) : '-',
        exitOf(run),
        run.host,
      ]}
    />
  );
}
