import type { JobView, NodeView, StatusView } from '../daemon/control/api-types.js';
import type { RunRecord } from '../daemon/runlog/types.js';

/** The `events` stream's events; they are the daemon's to define, and re-exported for the TUI's reducers. */
export type { DaemonEvent } from '../daemon/control/api-types.js';

/**
 * Everything the TUI shows, kept up to date from the daemon's event stream.
 * Components render from this (as props); only the feed writes it.
 */
export interface TuiState {
  /** The feed has a live subscription to the daemon. */
  connected: boolean;
  /** Why it is not connected (shown in the header), or null. */
  error: string | null;
  /** When the feed will try again, if disconnected. */
  retryAtMs: number | null;
  status: StatusView | null;
  /** All jobs, sorted by name; `running` and `lastRun` kept current by run events. */
  jobs: JobView[];
  /** Runs in flight anywhere the daemon can see (this host, or the cluster). */
  running: RunRecord[];
  /** Finished and recorded runs, newest first, capped. */
  recent: RunRecord[];
  nodes: NodeView[];
}

export const emptyState = (): TuiState => ({
  connected: false,
  error: null,
  retryAtMs: null,
  status: null,
  jobs: [],
  running: [],
  recent: [],
  nodes: [],
});
