import type { ControlClient } from '../daemon/control/client.js';
import type { LogEvent } from '../daemon/control/api-types.js';
import type { RunRecord } from '../daemon/runlog/types.js';
import { humanDuration, localTime, runName } from './format.js';

export interface LogParams {
  job?: string;
  runId?: string;
  follow: boolean;
  /** The job's newest run of this shard. */
  shard?: number;
}

/**
 * Prints a `logs` stream: output bytes go to stdout unchanged (so binary and
 * partial lines survive a pipe); headers and run ends go to stderr, so
 * `dcron logs job > file` captures exactly what the job printed.
 * Resolves with the last run that ended.
 */
export async function printLogs(client: ControlClient, params: LogParams): Promise<RunRecord | null> {
  let lastEnded: RunRecord | null = null;
  let headers = 0;
  // Markers go on their own line even when the output stopped mid-line.
  let midLine = false;
  const mark = (text: string) => {
    process.stderr.write(`${midLine ? '\n' : ''}── ${text} ──\n`);
    midLine = false;
  };
  const handle = client.stream('logs', params, (e: LogEvent) => {
    switch (e.type) {
      case 'run':
        if (params.follow || headers > 0) mark(`run ${e.run.id} of ${runName(e.run)}, tick ${localTime(e.run.tickMs)}, ${e.run.trigger}, on ${e.run.host}`);
        headers++;
        break;
      case 'output': {
        const data = Buffer.from(e.data, 'base64');
        process.stdout.write(data);
        if (data.length > 0) midLine = data[data.length - 1] !== 0x0a;
        break;
      }
      case 'end':
        lastEnded = e.run;
        if (params.follow || e.run.status !== 'ok') mark(describeEnd(e.run));
        break;
      case 'waiting':
        mark(`waiting for the next run of ${e.job}`);
        break;
    }
  });
  const stop = () => handle.cancel();
  process.once('SIGINT', stop);
  try {
    await handle.done;
  } finally {
    process.off('SIGINT', stop);
  }
  return lastEnded;
}

function describeEnd(run: RunRecord): string {
  if (run.status === 'running') return `run ${run.id} is still running`;
  const took = run.endedMs === null ? '' : ` after ${humanDuration(run.endedMs - run.startedMs)}`;
  const how = run.exitCode !== null ? `exit ${run.exitCode}` : run.signal ? `signal ${run.signal}` : '';
  return `run ${run.id} ${run.status}${how ? ` (${how})` : ''}${took}${run.message ? `: ${run.message}` : ''}`;
}
