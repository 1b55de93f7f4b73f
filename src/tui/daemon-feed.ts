import { EventEmitter } from 'node:events';
import { ControlClient, type StreamHandle } from '../daemon/control/client.js';
import { emptyState, type DaemonEvent, type TuiState } from './model.js';
import { disconnected, reduce } from './reduce.js';

export interface DaemonFeedOptions {
  socketPath: string;
  /** First wait before reconnecting; doubles on each failure up to MAX_RETRY_MS. */
  reconnectMs?: number;
  now?: () => number;
}

const MAX_RETRY_MS = 2000;
/**
 * At most one `change` per this many ms: a run printing thousands of lines a
 * second, or a burst of ticks, must not re-render React per event, while a
 * lone change still shows at once.
 */
const CHANGE_EVERY_MS = 20;

/**
 * The TUI's live view of the daemon: subscribes to the control socket's
 * `events` stream, folds the events into a TuiState, and keeps trying
 * (with a fresh snapshot each time) while the daemon is away.
 */
export class DaemonFeed extends EventEmitter<{ change: [TuiState] }> {
  private current: TuiState = emptyState();
  private active = false;
  private stream: StreamHandle | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private changeTimer: NodeJS.Timeout | null = null;
  private lastChangeMs = 0;
  private readonly firstRetryMs: number;
  private retryMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: DaemonFeedOptions) {
    super();
    this.firstRetryMs = opts.reconnectMs ?? 200;
    this.retryMs = this.firstRetryMs;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    void this.subscribe();
  }

  stop(): void {
    this.active = false;
    this.stream?.cancel();
    this.stream = null;
    for (const t of [this.retryTimer, this.changeTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.changeTimer = null;
  }

  state(): TuiState {
    return this.current;
  }

  private async subscribe(): Promise<void> {
    const path = this.opts.socketPath;
    let client: ControlClient;
    try {
      client = await ControlClient.connect(path);
    } catch (err) {
      this.lost((err as Error).message);
      return;
    }
    if (!this.active) {
      client.close();
      return;
    }
    const handle = client.stream('events', {}, (event: DaemonEvent) => this.apply(event));
    this.stream = handle;
    let why = 'the daemon ended the event stream';
    try {
      await handle.done;
    } catch (err) {
      why = (err as Error).message;
    }
    client.close();
    // stop() cancelled it: nothing was lost.
    if (this.stream !== handle) return;
    this.stream = null;
    this.lost(`lost the daemon at ${path}: ${why}`);
  }

  private apply(event: DaemonEvent): void {
    if (event.type === 'snapshot') this.retryMs = this.firstRetryMs;
    this.setState(reduce(this.current, event));
  }

  private lost(why: string): void {
    if (!this.active) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.setState(disconnected(this.current, why, this.now() + delay));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.subscribe();
    }, delay);
  }

  private setState(next: TuiState): void {
    if (next === this.current) return;
    this.current = next;
    if (this.changeTimer) return;
    const delay = Math.max(0, this.lastChangeMs + CHANGE_EVERY_MS - Date.now());
    this.changeTimer = setTimeout(() => {
      this.changeTimer = null;
      this.lastChangeMs = Date.now();
      this.emit('change', this.current);
    }, delay);
  }
}
