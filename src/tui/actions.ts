import type { RunStartView } from '../daemon/control/api-types.js';
import { ControlClient } from '../daemon/control/client.js';
import type { ParamsArg, ParamsOf, ResultOf } from '../daemon/control/methods.js';

/** What the TUI asks the daemon to do; tests pass their own. */
export interface TuiActions {
  run(job: string): Promise<RunStartView>;
  kill(job: string, runId?: string): Promise<{ killed: string[] }>;
  pause(job: string): Promise<unknown>;
  resume(job: string): Promise<{ resumed: boolean }>;
}

/** One short connection per action: actions are rare, and this survives daemon restarts for free. */
export function daemonActions(socketPath: string): TuiActions {
  const call = async <M extends 'run' | 'kill' | 'pause' | 'resume'>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> => {
    const client = await ControlClient.connect(socketPath);
    try {
      return await client.call<M>(method, ...([params] as ParamsArg<ParamsOf<M>>));
    } finally {
      client.close();
    }
  };
  return {
    run: (job) => call('run', { job }),
    kill: (job, runId) => call('kill', { job, runId }),
    pause: (job) => call('pause', { job }),
    resume: (job) => call('resume', { job }),
  };
}
