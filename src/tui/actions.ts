import type { RunStartView } from '../daemon/control/api-types.js';
import { ControlClient } from '../daemon/control/client.js';

/** What the TUI asks the daemon to do; tests pass their own. */
export interface TuiActions {
  run(job: string): Promise<RunStartView>;
  kill(job: string, runId?: string): Promise<{ killed: string[] }>;
}

/** One short connection per action: actions are rare, and this survives daemon restarts for free. */
export function daemonActions(socketPath: string): TuiActions {
  const call = async <T>(method: string, params: unknown): Promise<T> => {
    const client = await ControlClient.connect(socketPath);
    try {
      return await client.call<T>(method, params);
    } finally {
      client.close();
    }
  };
  return {
    run: (job) => call('run', { job }),
    kill: (job, runId) => call('kill', { job, runId }),
  };
}
