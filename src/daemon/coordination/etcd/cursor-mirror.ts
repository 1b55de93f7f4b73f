/**
 * This node's copy of every tick cursor under the cluster's `cursor` prefix
 * (shared cursors and per-host ones), kept by a PrefixMirror: listed, then
 * watched, re-listed after any watch error or disconnect and on a timer.
 *
 * It only ever saves etcd requests, it decides nothing: the claim
 * transaction stays the sole arbiter of who runs a tick. A copy that lags
 * shows a cursor older than it is, which costs a transaction that would
 * have been saved; cursors only move forward, so it never shows one newer.
 * Hence what the copy may answer: "this tick is already taken" only when it
 * has seen another writer's cursor at or past it, and "this job has never
 * been claimed" only from a complete list.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../log.js';
import { decodeTick } from './keys.js';
import { PrefixMirror, type MirrorBatch, type SyncReason } from './prefix-mirror.js';

export const DEFAULT_CURSOR_RELIST_MS = 120_000;
/** Cursor values are ~40 bytes: pages stay far below gRPC's 4 MiB reply limit. */
const PAGE_KEYS = 5000;

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
export type CursorSyncReason = SyncReason;

export class CursorMirror {
  private readonly mirror: PrefixMirror<Entry>;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private active = false;

  constructor(private readonly opts: CursorMirrorOptions) {
    this.mirror = new PrefixMirror<Entry>({
      client: opts.client,
      prefix: opts.prefix,
      decode: (kv) => this.entryOf(kv.value.toString()),
      what: 'tick cursor',
      log: opts.log,
      relistIntervalMs: opts.relistIntervalMs ?? DEFAULT_CURSOR_RELIST_MS,
      pageKeys: PAGE_KEYS,
    });
    this.mirror.on('changes', (batch) => this.wakeChanged(batch));
    this.mirror.on('synced', ({ reason, revision }) => opts.onSynced?.(reason, revision));
  }

  /** Lists every cursor; rejects if etcd cannot be read, so a node never starts on a copy it does not have. */
  async start(): Promise<void> {
    await this.mirror.start();
    this.active = true;
  }

  async stop(): Promise<void> {
    this.active = false;
    for (const key of [...this.waiters.keys()]) this.settle(key, () => false);
    await this.mirror.stop();
  }

  /** The cursor's tick as last seen; undefined when the key did not exist then. */
  tickOf(key: string): number | undefined {
    return this.mirror.get(key)?.tickMs;
  }

  /** Full lists applied so far (the first one included). */
  get syncCount(): number {
    return this.mirror.syncCount;
  }

  /** The store revision the copy reflects at least. */
  revision(): number {
    return this.mirror.revision();
  }

  /** True when another writer's cursor is known to be at or past `tickMs`: a claim of it is certain to fail. */
  takenElsewhere(key: string, tickMs: number): boolean {
    const e = this.mirror.get(key);
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

  private entryOf(value: string): Entry {
    return { tickMs: decodeTick(value), own: this.opts.isOwn(value) };
  }

  private wakeChanged(batch: MirrorBatch<Entry>): void {
    for (const change of batch.changes) {
      if (change.type === 'put' && this.waiters.has(change.key)) this.settle(change.key, (w) => this.takenElsewhere(change.key, w.tickMs) || null);
    }
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
}
