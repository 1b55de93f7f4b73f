/**
 * This node's copy of every key under one etcd prefix: a consistent paged
 * list, then a watch from the list's revision. The watch alone cannot be
 * trusted (SPEC §3): a watch on an isolated member stays silent, a
 * compacted start revision cancels it with a bare error, and the client's
 * own resume after a reconnect can skip events or ask for a compacted
 * revision. So every watch error or disconnect, and a timer, rebuild the
 * copy from a fresh list, which is diffed against the copy: consumers hear
 * a change once, whether the watch or a re-list found it, and a key that
 * vanished while the watch was down is reported as a delete with the value
 * last seen (failover acts on exactly those).
 *
 * Every change batch says how old its changes can be at most (`notBeforeMs`),
 * so a consumer that acts on a change can refuse to act on one it learnt late.
 */
import { EventEmitter } from 'node:events';
import { GRPCOutOfRangeError, Range, type Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import { watchOnOwnStream } from './connect.js';
import { boundedWait, WakeableDelay } from '../../timing.js';
import type { Logger } from '../../log.js';

/** Why the copy was rebuilt from a full list. */
export type SyncReason = 'start' | 'compacted' | 'periodic' | 'watch-error' | 'disconnected';

export interface MirrorEntry<V> {
  value: V;
  modRevision: number;
}

export type MirrorChange<V> =
  | { type: 'put'; key: string; value: V; previous: V | undefined; modRevision: number }
  /** `previous`: the value last seen; undefined only for keys outside the mirrored prefix (see `watchPrefix`). */
  | { type: 'delete'; key: string; previous: V | undefined };

export interface MirrorBatch<V> {
  /** 'watch': one watch response, so one transaction's changes arrive together; 'list': a re-list's diff against the copy. */
  source: 'watch' | 'list';
  changes: MirrorChange<V>[];
  /**
   * Every change in the batch happened in etcd at or after this instant
   * (this host's monotonic clock, `monotonicMs`, unless `now` is given). For a watched
   * change, when the latest list began (the watch delivers only changes past that list's
   * revision); for a re-list, when the list before it began. 0 for the first list.
   */
  notBeforeMs: number;
}

/** A consistent snapshot of the prefix: the value of every key at `revision`. */
export interface MirrorSnapshot<V> {
  revision: number;
  entries: Map<string, MirrorEntry<V>>;
}

export type MirrorEvents<V> = {
  changes: [MirrorBatch<V>];
  /** After each full list is applied (the first one too); its changes, if any, were emitted just before. */
  synced: [{ reason: SyncReason; revision: number }];
};

export interface PrefixMirrorOptions<V> {
  client: Etcd3;
  /** The keys copied. */
  prefix: string;
  /**
   * A prefix covering `prefix` to watch instead, so that writes made in one
   * transaction with mirrored keys arrive in the same batch. Keys outside
   * `prefix` are reported but neither listed nor copied.
   */
  watchPrefix?: string;
  /** Turns a stored value into the copy's; never throws (return a marker for an unusable value). */
  decode: (kv: IKeyValue) => V;
  /** Replaces the default paged list (e.g. to read keys only when the values are known). `known`: the copy, to reuse. */
  list?: (known: ReadonlyMap<string, MirrorEntry<V>>) => Promise<MirrorSnapshot<V>>;
  /** Names the copy in logs. */
  what: string;
  log: Logger;
  relistIntervalMs: number;
  /** Keys per page of the default list; keep pages well under gRPC's 4 MiB reply limit. */
  pageKeys?: number;
  /** Stamps batches' `notBeforeMs`. */
  now?: () => number;
}

/** Milliseconds on a clock that never steps (NTP may step the wall clock): for durations compared across hosts. */
export const monotonicMs = (): number => performance.timeOrigin + performance.now();

const DEFAULT_PAGE_KEYS = 5000;
/** A compaction between two pages voids the snapshot; start over a few times before giving up. */
const MAX_LIST_ATTEMPTS = 5;
/** Re-list retries back off up to this; short enough to catch up soon after etcd returns. */
const MAX_RETRY_DELAY_MS = 2_000;
/** cancel() waits for etcd's reply, which a frozen member never sends; stopping must not hang on it. */
const CANCEL_TIMEOUT_MS = 1_000;

export class PrefixMirror<V> extends EventEmitter<MirrorEvents<V>> {
  private readonly copy = new Map<string, MirrorEntry<V>>();
  private watcher: Watcher | null = null;
  private relistTimer: NodeJS.Timeout | null = null;
  private readonly retryDelay = new WakeableDelay();
  private rev = 0;
  /** Revision of the last list applied: watch events at or below it are already in the copy. */
  private listedRev = 0;
  /** Deletes the watch applied while a periodic list was in flight, by key: the list must not bring them back. */
  private readonly tombstones = new Map<string, number>();
  private listing = false;
  private syncs = 0;
  /** When the list the copy (and the running watch) continues from began. */
  private basisMs = 0;
  /** Bumped by start() and stop(): async work of an older epoch finds it changed and quits. */
  private epoch = 0;
  private active = false;
  /** Epoch of the resync loop running, if any; -1: none. */
  private resyncEpoch = -1;
  private readonly now: () => number;

  constructor(private readonly opts: PrefixMirrorOptions<V>) {
    super();
    this.now = opts.now ?? monotonicMs;
  }

  /**
   * The first start lists the prefix, reporting every key as a put, and
   * rejects if etcd cannot be read, so a node never starts on a copy it does
   * not have. A start after stop() returns at once and resumes in the
   * background: watching from the last revision seen, or re-listing if etcd
   * has compacted that history away.
   */
  async start(): Promise<void> {
    if (this.active) return;
    this.active = true;
    const epoch = ++this.epoch;
    if (this.syncs > 0) {
      void this.resume(epoch);
      return;
    }
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
    await this.dropWatcher();
  }

  /** The live copy; read-only to callers. */
  entries(): ReadonlyMap<string, MirrorEntry<V>> {
    return this.copy;
  }

  get(key: string): V | undefined {
    return this.copy.get(key)?.value;
  }

  /** The store revision the copy reflects at least. */
  revision(): number {
    return this.rev;
  }

  /** Full lists applied so far (the first one included). */
  get syncCount(): number {
    return this.syncs;
  }

  /**
   * The watch would report compaction itself only when its start revision is
   * below the compacted one; at exactly that revision etcd replays it without
   * the deletes compaction dropped. A read at the last revision seen fails in
   * both cases, so that read decides.
   */
  private async resume(epoch: number): Promise<void> {
    const range = Range.prefix(this.opts.prefix);
    try {
      await this.opts.client.kv.range({ key: range.start, range_end: range.end, revision: this.rev, count_only: true });
    } catch (err) {
      if (this.epoch !== epoch) return;
      if (err instanceof GRPCOutOfRangeError) return this.resync('compacted');
      this.opts.log.warn(`cannot resume the ${this.opts.what} watch; re-listing`, { error: err });
      return this.resync('watch-error');
    }
    if (this.epoch !== epoch) return;
    this.watchFrom(this.rev + 1, epoch);
    this.scheduleRelist(epoch);
  }

  /**
   * One full list applied as a diff, then a watch from its revision. A
   * periodic list keeps a healthy watch running: re-creating it every
   * interval would cost a cancel and a create round trip each time and
   * deliver what was written meanwhile late (a node directory re-lists every
   * second and measures clock skew by how fresh a watched record is).
   */
  private async sync(reason: SyncReason, epoch: number): Promise<void> {
    const keepWatch = reason === 'periodic' && this.watcher !== null;
    if (!keepWatch) await this.dropWatcher();
    const startedMs = this.now();
    this.listing = true;
    let snapshot: MirrorSnapshot<V>;
    try {
      snapshot = await (this.opts.list ?? ((known) => this.listPages(known)))(this.copy);
    } finally {
      this.listing = false;
    }
    if (this.epoch !== epoch) return;
    const notBeforeMs = this.syncs === 0 ? 0 : this.basisMs;
    this.syncs++;
    const changes = this.applySnapshot(snapshot);
    this.tombstones.clear();
    // Watch events past this revision happened after this list began: that bounds how old they can be.
    this.listedRev = snapshot.revision;
    this.basisMs = startedMs;
    this.rev = Math.max(keepWatch ? this.rev : 0, snapshot.revision);
    // From what the copy holds: a watch lost during a kept-watch list had applied events past the snapshot.
    if (!keepWatch || !this.watcher) this.watchFrom(this.rev + 1, epoch);
    this.scheduleRelist(epoch);
    if (changes.length > 0) this.emit('changes', { source: 'list', changes, notBeforeMs });
    this.emit('synced', { reason, revision: snapshot.revision });
  }

  /** Keys the watch changed after the snapshot's revision keep the watch's newer state. */
  private applySnapshot(snapshot: MirrorSnapshot<V>): MirrorChange<V>[] {
    const changes: MirrorChange<V>[] = [];
    for (const [key, entry] of snapshot.entries) {
      const had = this.copy.get(key);
      if (had?.modRevision === entry.modRevision) continue;
      if ((had && had.modRevision > snapshot.revision) || (this.tombstones.get(key) ?? 0) > snapshot.revision) continue;
      this.copy.set(key, entry);
      changes.push({ type: 'put', key, value: entry.value, previous: had?.value, modRevision: entry.modRevision });
    }
    for (const [key, had] of this.copy) {
      if (snapshot.entries.has(key) || had.modRevision > snapshot.revision) continue;
      this.copy.delete(key);
      changes.push({ type: 'delete', key, previous: had.value });
    }
    return changes;
  }

  /** A consistent snapshot: every page is read at the first page's revision; values already in the copy are not decoded again. */
  private async listPages(known: ReadonlyMap<string, MirrorEntry<V>>): Promise<MirrorSnapshot<V>> {
    const range = Range.prefix(this.opts.prefix);
    for (let attempt = 1; ; attempt++) {
      const entries = new Map<string, MirrorEntry<V>>();
      let revision = 0;
      let start = range.start;
      try {
        for (;;) {
          const res = await this.opts.client.kv.range({ key: start, range_end: range.end, limit: this.opts.pageKeys ?? DEFAULT_PAGE_KEYS, revision: revision || undefined });
          if (revision === 0) revision = Number(res.header.revision);
          for (const kv of res.kvs) {
            const key = kv.key.toString();
            const modRevision = Number(kv.mod_revision);
            const had = known.get(key);
            entries.set(key, had?.modRevision === modRevision ? had : { value: this.opts.decode(kv), modRevision });
          }
          if (!res.more || res.kvs.length === 0) return { revision, entries };
          start = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
        }
      } catch (err) {
        if (!(err instanceof GRPCOutOfRangeError) || attempt >= MAX_LIST_ATTEMPTS) throw err;
      }
    }
  }

  /** Re-lists until it works; triggers arriving meanwhile are covered by the list in progress. */
  private async resync(reason: SyncReason): Promise<void> {
    const epoch = this.epoch;
    if (!this.active || this.resyncEpoch === epoch) return;
    this.resyncEpoch = epoch;
    try {
      for (let attempt = 1; this.epoch === epoch; attempt++) {
        try {
          await this.sync(reason, epoch);
          return;
        } catch (err) {
          const delayMs = Math.min(100 * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
          this.opts.log.warn(`re-listing the ${this.opts.what} failed; retrying`, { reason, attempt, delayMs, error: err });
          await this.retryDelay.wait(delayMs);
        }
      }
    } finally {
      if (this.resyncEpoch === epoch) this.resyncEpoch = -1;
    }
  }

  private watchFrom(revision: number, epoch: number): void {
    // watcher(), not create(): create() hands the watcher over only after 'connected', and the
    // first events can arrive in the same read as the creation reply, before a listener exists.
    const w = watchOnOwnStream(this.opts.client)
      .prefix(this.opts.watchPrefix ?? this.opts.prefix)
      .startRevision(String(revision))
      .watcher();
    this.watcher = w;
    const current = () => this.watcher === w && this.epoch === epoch;
    w.on('data', (res: IWatchResponse) => {
      if (current()) this.applyEvents(res);
    });
    w.on('disconnected', (err) => {
      if (!current()) return;
      // The client would resume by itself, from a revision etcd may have compacted meanwhile: re-list instead.
      this.opts.log.warn(`${this.opts.what} watch disconnected; re-listing`, { error: err });
      // Dropped first: a periodic list in flight (which this resync then joins) must not keep it.
      void this.dropWatcher();
      void this.resync('disconnected');
    });
    w.on('error', (err) => {
      if (!current()) return;
      // etcd has already dropped a watch that errors (compaction cancels it): there is nothing to cancel.
      this.watcher = null;
      this.opts.log.warn(`${this.opts.what} watch failed; re-listing`, { error: err });
      void this.resync('watch-error');
    });
  }

  private applyEvents(res: IWatchResponse): void {
    // Progress notifications carry no events; their header says everything up to it was delivered.
    let seen = res.events.length === 0 ? Number(res.header.revision) : 0;
    const changes: MirrorChange<V>[] = [];
    for (const event of res.events) {
      const key = event.kv.key.toString();
      const mirrored = key.startsWith(this.opts.prefix);
      const modRevision = Number(event.kv.mod_revision);
      // A watch kept across a periodic list may still deliver what that list already applied.
      // Events outside the prefix (a wider watch) are not in any list.
      if (mirrored && modRevision <= this.listedRev) continue;
      const previous = this.copy.get(key)?.value;
      if (event.type === 'Delete') {
        if (mirrored) this.copy.delete(key);
        if (this.listing) this.tombstones.set(key, modRevision);
        changes.push({ type: 'delete', key, previous });
      } else {
        const value = this.opts.decode(event.kv);
        if (mirrored) this.copy.set(key, { value, modRevision });
        changes.push({ type: 'put', key, value, previous, modRevision });
      }
      seen = Math.max(seen, modRevision);
    }
    this.rev = Math.max(this.rev, seen);
    if (changes.length > 0) this.emit('changes', { source: 'watch', changes, notBeforeMs: this.basisMs });
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
    }, this.opts.relistIntervalMs);
    this.relistTimer.unref();
  }
}
