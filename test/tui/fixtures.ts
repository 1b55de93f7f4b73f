import { EventEmitter } from 'node:events';
import type { JobView, NodeView, RunStartView } from '../../src/daemon/control/api-types.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import type { TuiActions } from '../../src/tui/actions.js';
import { emptyState, type TuiState } from '../../src/tui/model.js';

export const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

export function job(name: string, over: Partial<JobView> = {}): JobView {
  return {
    name,
    scheduleText: '*/5 * * * *',
    description: 'every 5 minutes',
    tz: 'UTC',
    command: 'true',
    nextTickMs: NOW + 90_000,
    lastRun: null,
    running: [],
    source: { file: 'crontab', line: 1 },
    retained: false,
    shards: 1,
    after: null,
    afterFailure: null,
    paused: null,
    ...over,
  };
}

export function run(id: string, jobName: string, over: Partial<RunRecord> = {}): RunRecord {
  return {
    id: id.padEnd(26, '0'),
    job: jobName,
    tickMs: NOW - 5000,
    trigger: 'manual',
    attempt: 1,
    fence: null,
    host: 'web-1',
    status: 'running',
    startedMs: NOW - 5000,
    endedMs: null,
    exitCode: null,
    signal: null,
    pid: 123,
    outputBytes: 0,
    truncated: false,
    message: null,
    shard: null,
    shards: null,
    ...over,
  };
}

export const node = (id: string, over: Partial<NodeView> = {}): NodeView => ({
  id,
  self: false,
  healthy: true,
  skewMs: 3,
  running: 0,
  slots: null,
  figures: null,
  uptimeMs: 3_600_000,
  labels: {},
  version: '0.1.0',
  peerUrl: null,
  ...over,
});

export const connected = (over: Partial<TuiState> = {}): TuiState => ({ ...emptyState(), connected: true, ...over });

/** Stands in for DaemonFeed: tests push states with set(). */
export class FakeFeed extends EventEmitter<{ change: [TuiState] }> {
  started = 0;
  stopped = 0;
  constructor(private current: TuiState) {
    super();
  }
  state(): TuiState {
    return this.current;
  }
  start(): void {
    this.started++;
  }
  stop(): void {
    this.stopped++;
  }
  set(next: TuiState): void {
    this.current = next;
    this.emit('change', next);
  }
}

export class FakeActions implements TuiActions {
  readonly calls: string[] = [];
  async run(jobName: string): Promise<RunStartView> {
    this.calls.push(`run ${jobName}`);
    return { outcome: 'started', runId: '01ABCDEFGHJKMNPQRSTVWXYZ00', message: null };
  }
  async kill(jobName: string, runId?: string): Promise<{ killed: string[] }> {
    this.calls.push(`kill ${jobName}${runId ? ` ${runId}` : ''}`);
    return { killed: [runId ?? '01KILLED000000000000000000'] };
  }
  async pause(jobName: string): Promise<unknown> {
    this.calls.push(`pause ${jobName}`);
    return {};
  }
  async resume(jobName: string): Promise<{ resumed: boolean }> {
    this.calls.push(`resume ${jobName}`);
    return { resumed: true };
  }
}

export const KEYS = { down: '\u001B[B', up: '\u001B[A', enter: '\r', tab: '\t', esc: '\u001B', backspace: '\u007F' };
