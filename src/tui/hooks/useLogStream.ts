import { useEffect, useState } from 'react';
import type { LogEvent } from '../../daemon/control/api-types.js';
import { ControlClient, type StreamHandle } from '../../daemon/control/client.js';
import type { RunRecord } from '../../daemon/runlog/types.js';
import { Scrollback, type ScrollbackView } from '../scrollback.js';

export interface LogStream extends ScrollbackView {
  run: RunRecord | null;
  /** Why the stream is not flowing (it retries by itself), or null. */
  error: string | null;
}

export interface LogStreamOptions {
  /** Lines kept for scrolling back. */
  limit?: number;
  /** Least time between two renders of new output. */
  flushMs?: number;
  retryMs?: number;
}

const idle: LogStream = { run: null, error: null, lines: [], first: 0 };

/**
 * Follows one run's output. A chatty run can print thousands of lines a
 * second: chunks go into a bounded scrollback at once, but the component sees
 * them at most every `flushMs`. If the daemon goes away the stream reconnects;
 * the daemon replays the stored output, so the buffer starts over on each `run`.
 */
export function useLogStream(socketPath: string, runId: string | null, opts: LogStreamOptions = {}): LogStream {
  const { limit = 5000, flushMs = 50, retryMs = 2000 } = opts;
  const [view, setView] = useState<LogStream>(idle);

  useEffect(() => {
    setView(idle);
    if (runId === null) return;
    const buffer = new Scrollback(limit);
    let run: RunRecord | null = null;
    let error: string | null = null;
    let flushTimer: NodeJS.Timeout | undefined;
    let retryTimer: NodeJS.Timeout | undefined;
    let handle: StreamHandle | undefined;
    let stopped = false;

    const flushNow = () => {
      clearTimeout(flushTimer);
      flushTimer = undefined;
      setView({ run, error, ...buffer.view() });
    };
    const flushSoon = () => {
      flushTimer ??= setTimeout(flushNow, flushMs);
    };
    const onEvent = (e: LogEvent) => {
      if (e.type === 'run') {
        buffer.reset();
        run = e.run;
        error = null;
      } else if (e.type === 'output') buffer.push(Buffer.from(e.data, 'base64'));
      else if (e.type === 'end') run = e.run;
      flushSoon();
    };
    const retry = (err: unknown) => {
      if (stopped) return;
      error = err instanceof Error ? err.message : String(err);
      flushNow();
      retryTimer = setTimeout(connect, retryMs);
    };
    const connect = () => {
      ControlClient.connect(socketPath).then((client) => {
        if (stopped) return client.close();
        handle = client.stream('logs', { runId, follow: true }, onEvent);
        // The stream ends when the run does; close the connection it used.
        handle.done.then(() => client.close(), retry);
      }, retry);
    };

    connect();
    return () => {
      stopped = true;
      clearTimeout(flushTimer);
      clearTimeout(retryTimer);
      handle?.cancel();
    };
  }, [socketPath, runId, limit, flushMs, retryMs]);

  return view;
}
