/**
 * This node's copy of every tick cursor under the cluster's `cursor` prefix
 * (shared cursors and per-host ones): one paged list, then a watch from the
 * list's revision, re-listed after any watch error or disconnect and on a
 * timer, like the job list (SPEC §3: a watch alone cannot be trusted).
 *
 * It only ever saves etcd requests, it decides nothing: the claim
 * transaction stays the sole arbiter of who runs a tick. A copy that lags
 * shows a cursor older than it is, which costs a transaction that would
 * have been saved; cursors only move forward, so it never shows one newer.
 * Hence what the copy may answer: "this tick is already taken" only when it
 * has seen another writer's cursor at or past it, and "this job has never
 * been claimed" only from a complete list.
 */
import { watchOnOwnStream } from './connect.js';
import { boundedWait, WakeableDelay } from '../../timing.js';
import { GRPCOutOfRangeError, Range, type Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import type { Logger } from '../../log.js';
import { decodeTick } from './keys.js';

export const DEFAULT_CURSOR_RELIST_MS = 120_000;
/** Cursor values are ~40 bytes: pages stay far below gRPC's 4 MiB reply limit. */
const PAGE_KEYS = 5000;
const MAX_RETRY_DELAY_MS = 2_000;
/** cancel() waits for etcd's reply, which a frozen member never sends. */
const CANCEL_TIMEOUT_MS = 1_000;

export interface CursorMirrorOptions {
  client: Etcd3;
  /** Every key under it is a cursor whose value starts with the fixed-width tick. */
  prefix: string;
  /** True for values this process wrote itself: those are never reported as taken by another. */
  isOwn: (value: string) => boolean;
  log: Logger;
  relistIntervalMs?: number;
  /** Called after each full list is applied (the first one too). */
  onSynced?: (reason: CursorSyncReason, revision: number) => void;
}

interface Entry {
  tickMs: number;
  own: boolean;
}

interface Waiter {
  tickMs: number;
  done: (takenElsewhere: boolean) => void;
}

/** Why the copy was rebuilt from a full list (for tests and logs). */
export type CursorSyncReason = 'start' | 'periodic' | 'watch-error' | 'disconnected';

export class CursorMirror {
  private readonly entries = new Map<string, Entry>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private watcher: Watcher | null = null;
  private relistTimer: NodeJS.Timeout | null = null;
  private readonly retryDelay = new WakeableDelay();
  private rev = 0;
  /** Bumped by start() and stop(): async work of an older epoch finds it changed and quits. */
  private epoch = 0;
  private active = false;
  private resyncing = false;
  private syncs = 0;

  constructor(private readonly opts: CursorMirrorOptions) {}

  /** Lists every cursor; rejects if etcd cannot be read, so a node never starts on a copy it does not have. */
  async start(): Promise<void> {
    if (this.active) return;
    this.active = true;
    const epoch = ++this.epoch;
    try {
      await this.sync('start', epoch);
    } catch (err) {
      if (this.epoch === epoch) this.active = false;
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.epoch++;
    if (this.relistTimer) clearTimeout(this.relistTimer);
    this.relistTimer = null;
    this.retryDelay.wake();
    for (const key of [...this.waiters.keys()]) this.settle(key, () => false);
    await this.dropWatcher();
  }

  /** The cursor's tick as last seen; undefined when the key did not exist then. */
  tickOf(key: string): number | undefined {
    return this.entries.get(key)?.tickMs;
  }

  /** Full lists applied so far (the first one included). */
  get syncCount(): number {
    return this.syncs;
  }

  /** The store revision the copy reflects at least. */
  revision(): number {
    return this.rev;
  }

  /** True when another writer's cursor is known to be at or past `tickMs`: a claim of it is certain to fail. */
  takenElsewhere(key: string, tickMs: number): boolean {
    const e = this.entries.get(key);
    return e !== undefined && !e.own && e.tickMs >= tickMs;
  }

  /**
   * Resolves true as soon as takenElsewhere(key, tickMs) holds, false after
   * `withinMs` (or at stop) if it never did.
   */
  waitTakenElsewhere(key: string, tickMs: number, withinMs: number): Promise<boolean> {
    if (this.takenElsewhere(key, tickMs)) return Promise.resolve(true);
    if (!this.active || withinMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const waiter: Waiter = {
        tickMs,
        done: (taken) => {
          clearTimeout(timer);
          const s = this.waiters.get(key);
          s?.delete(waiter);
          if (s?.size === 0) this.waiters.delete(key);
          resolve(taken);
        },
      };
      const timer = setTimeout(() => waiter.done(false), withinMs);
      set.add(waiter);
    });
  }

  /** One full list replacing the copy, then a watch from its revision. */
  private async sync(reason: CursorSyncReason, epoch: number): Promise<void> {
    await this.dropWatcher();
    const { revision, values } = await this.list();
    if (this.epoch !== epoch) return;
    this.entries.clear();
    for (const [key, value] of values) this.entries.set(key, this.entryOf(value));
    this.rev = revision;
    this.syncs++;
    for (const key of [...this.waiters.keys()]) this.wake(key);
    this.watchFrom(revision + 1, epoch);
    this.scheduleRelist(epoch);
    this.opts.onSynced?.(reason, revision);
  }

  /** A consistent snapshot: every page is read at the first page's revision. */
  private async list(): Promise<{ revision: number; values: Map<string, string> }> {
    const range = Range.prefix(this.opts.prefix);
    for (let attempt = 1; ; attempt++) {
      const values = new Map<string, string>();
      let revision = 0;
      let start = range.start;
      try {
        for (;;) {
          const res = await this.opts.client.kv.range({ key: start, range_end: range.end, limit: PAGE_KEYS, revision: revision || undefined });
          if (revision === 0) revision = Number(res.header.revision);
          for (const kv of res.kvs) values.set(kv.key.toString(), kv.value.toString());
          if (!res.more || res.kvs.length === 0) return { revision, values };
          start = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
        }
      } catch (err) {
        // A compaction between two pages voids the snapshot: start over.
        if (!(err instanceof GRPCOutOfRangeError) || attempt >= 5) throw err;
      }
    }
  }

  private async resync(reason: CursorSyncReason): Promise<void> {
    const epoch = this.epoch;
    if (!this.active || this.resyncing) return;
    this.resyncing = true;
    try {
      for (let attempt = 1; this.epoch === epoch; attempt++) {
        try {
          await this.sync(reason, epoch);
          return;
        } catch (err) {
          const delayMs = Math.min(100 * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
          this.opts.log.warn('re-listing tick cursors failed; retrying', { reason, attempt, delayMs, error: err });
          await this.retryDelay.wait(delayMs);
        }
      }
    } finally {
      this.resyncing = false;
    }
  }

  private watchFrom(revision: number, epoch: number): void {
    // watcher(), not create(): events can arrive with the creation reply, before create() would hand it over.
    const w = watchOnOwnStream(this.opts.client).prefix(this.opts.prefix).startRevision(String(revision)).watcher();
    this.watcher = w;
    const current = () => this.watcher === w && this.epoch === epoch;
    w.on('data', (res: IWatchResponse) => {
      if (current()) this.applyEvents(res);
    });
    w.on('disconnected', (err) => {
      if (!current()) return;
      this.opts.log.debug('cursor watch disconnected; re-listing', { error: err });
      void this.resync('disconnected');
    });
    w.on('error', (err) => {
      if (!current()) return;
      // etcd has already dropped a watch that errors (a compacted start revision cancels it).
      this.watcher = null;
      this.opts.log.debug('cursor watch failed; re-listing', { error: err });
      void this.resync('watch-error');
    });
  }

  private applyEvents(res: IWatchResponse): void {
    let seen = res.events.length === 0 ? Number(res.header.revision) : 0;
    for (const event of res.events) {
      const key = event.kv.key.toString();
      if (event.type === 'Delete') this.entries.delete(key);
      else this.set(key, event.kv);
      seen = Math.max(seen, Number(event.kv.mod_revision));
    }
    this.rev = Math.max(this.rev, seen);
  }

  private set(key: string, kv: IKeyValue): void {
    this.entries.set(key, this.entryOf(kv.value.toString()));
    if (this.waiters.has(key)) this.wake(key);
  }

  private entryOf(value: string): Entry {
    return { tickMs: decodeTick(value), own: this.opts.isOwn(value) };
  }

  private wake(key: string): void {
    this.settle(key, (w) => this.takenElsewhere(key, w.tickMs) || null);
  }

  /** Calls done() on each waiter of `key` for which `verdict` is not null. */
  private settle(key: string, verdict: (w: Waiter) => boolean | null): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const w of [...set]) {
      const v = verdict(w);
      if (v !== null) w.done(v);
    }
  }

  private async dropWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    if (!w) return;
    await boundedWait(w.cancel(), CANCEL_TIMEOUT_MS);
  }

  private scheduleRelist(epoch: number): void {
    if (this.relistTimer) clearTimeout(this.relistTimer);
    this.relistTimer = setTimeout(() => {
      if (this.epoch === epoch) void this.resync('periodic');
    }, this.opts.relistIntervalMs ?? DEFAULT_CURSOR_RELIST_MS);
    this.relistTimer.unref();
  }

}
