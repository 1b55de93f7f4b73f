import type { JobView } from '../../daemon/control/api-types.js';
import { scheduleColumn } from '../../cli/format.js';
import { lastResult, nextOf, whereRunning } from '../format.js';
import { Table } from './Table.js';

export interface JobListProps {
  jobs: readonly JobView[];
  cursor: number;
  height: number;
  width: number;
  nowMs: number;
  filter: string;
}

const columns = [{ title: 'JOB' }, { title: 'SCHEDULE', optional: true }, { title: 'NEXT', width: 11 }, { title: 'LAST', width: 15, optional: true }, { title: 'RUNNING ON', width: 12, optional: true }];

export function JobList({ jobs, cursor, height, width, nowMs, filter }: JobListProps) {
  return (
    <Table
      title={filter ? `Jobs matching "${filter}"` : 'Jobs'}
      columns={columns}
      items={jobs}
      cursor={cursor}
      height={height}
      width={width}
      empty={filter ? `no job name contains "${filter}" (esc clears the filter)` : 'no jobs: add lines to the crontab the daemon reads'}
      cells={(job) => {
        const last = lastResult(job, nowMs);
        return [
          job.retained ? `${job.name} (kept: line has an error)` : job.name,
          scheduleColumn(job),
          { text: nextOf(job, nowMs), tone: job.paused ? 'yellow' : undefined },
          { text: last.text, tone: last.tone },
          { text: whereRunning(job) || '-', tone: job.running.length > 0 ? 'cyan' : undefined },
        ];
      }}
    />
  );
}
