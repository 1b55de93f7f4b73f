/**
 * This host's copy of the cluster's job list: a full list, then a watch from
 * the list's revision. The watch alone cannot be trusted (SPEC §3): a watch on
 * an isolated member stays silent, a compacted start revision cancels it with
 * a bare error, and the client's own resume after a reconnect can skip events.
 * So every watch error or disconnect, and a timer, rebuilds the map from a
 * fresh list; the rebuild is diffed against the map, so listeners only ever
 * hear about real changes.
 */
import { watchOnOwnStream } from './connect.js';
import { boundedWait, WakeableDelay } from '../../timing.js';
import { EventEmitter } from 'node:events';
import { GRPCOutOfRangeError, Range, type Etcd3, type IEvent, type IWatchResponse, type Watcher } from 'etcd3';
import type { Logger } from '../../log.js';
import type { ClusterKeys } from './keys.js';
import { listJobs, readJobEntry, type JobListing, type KnownRecords } from './job-list.js';
import type { JobRecord, JobRecordError } from './job-record.js';

export const DEFAULT_RELIST_INTERVAL_MS = 30_000;
/** Re-list retries back off up to this; short enough to catch up soon after etcd returns. */
const MAX_RETRY_DELAY_MS = 2_000;
/** cancel() waits for etcd's reply, which a frozen member never sends; stopping must not hang on it. */
const CANCEL_TIMEOUT_MS = 1_000;

export interface JobListChange {
  added: JobRecord[];
  changed: Array<{ before: JobRecord; after: JobRecord }>;
  removed: JobRecord[];
}

/** Why the map was rebuilt from a full list. */
export type SyncReason = 'start' | 'compacted' | 'periodic' | 'watch-error' | 'disconnected';

export type JobFollowerEvents = {
  /** The map changed; one event per burst of watch responses, or per re-list. */
  change: [JobListChange];
  /** A value that is not a usable record; the job keeps its last good record, if there was one. Once per written value. */
  corrupt: [JobRecordError];
  synced: [{ reason: SyncReason; revision: number }];
};

export interface JobFollowerOptions {
  client: Etcd3;
  keys: ClusterKeys;
  log: Logger;
  relistIntervalMs?: number;
}

export class JobFollower extends EventEmitter<JobFollowerEvents> {
  private readonly records = new Map<string, JobRecord>();
  /** mod_revision of each record in `records`. */
  private readonly modRevisions = new Map<string, number>();
  /** mod_revision of each unusable value already reported, so a re-list does not report it again. */
  private readonly corruptSeen = new Map<string, number>();
  private rev = 0;
  private watcher: Watcher | null = null;
  /** Bumped by start() and stop(): async work from an older epoch finds it changed and quits. */
  private epoch = 0;
  private active = false;
  /** Epoch of the resync loop running, if any; -1: none. */
  private resyncEpoch = -1;
  private relistTimer: NodeJS.Timeout | null = null;
  private readonly retryDelay = new WakeableDelay();
  /** Records as they were before the current burst of watch events, for names the burst touched. */
  private pending: Map<string, JobRecord | undefined> | null = null;

  constructor(private readonly opts: JobFollowerOptions) {
    super();
  }

  /**
   * The first start lists the jobs, reporting them all as added, and rejects
   * if etcd cannot be read. A start after stop() returns at once and resumes
   * in the background: watching from the last revision seen, or re-listing if
   * etcd has compacted that history away. `known`: records whose values the
   * caller already has (it just published them), not read back on the first list.
   */
  async start(known?: KnownRecords): Promise<void> {
    if (this.active) return;
    this.active = true;
    const epoch = ++this.epoch;
    if (this.rev > 0) {
      void this.resume(epoch);
      return;
    }
    try {
      await this.sync('start', epoch, known);
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
    this.flush();
    await this.dropWatcher();
  }

  /** The live map, by job name; read-only to callers. It can be ahead of the last 'change' event until the event loop turns. */
  jobs(): ReadonlyMap<string, JobRecord> {
    return this.records;
  }

  /** The map as KnownRecords: each record with the revision it was read at. */
  private known(): KnownRecords {
    return {
      size: this.records.size,
      get: (name) => {
        const record = this.records.get(name);
        return record === undefined ? undefined : { record, modRevision: this.modRevisions.get(name)! };
      },
    };
  }

  /** The store revision the map reflects. */
  revision(): number {
    return this.rev;
  }

  /**
   * The watch would report compaction itself only when its start revision is
   * below the compacted one; at exactly that revision etcd replays it without
   * the deletes compaction dropped. A read at the last revision seen fails in
   * both cases, so that read decides.
   */
  private async resume(epoch: number): Promise<void> {
    const range = Range.prefix(this.opts.keys.jobsPrefix());
    try {
      await this.opts.client.kv.range({ key: range.start, range_end: range.end, revision: this.rev, count_only: true });
    } catch (err) {
      if (this.epoch !== epoch) return;
      if (err instanceof GRPCOutOfRangeError) return this.resync('compacted');
      this.opts.log.warn('cannot resume the job list watch; re-listing', { error: err });
      return this.resync('watch-error');
    }
    if (this.epoch !== epoch) return;
    this.watchFrom(this.rev + 1, epoch);
    this.scheduleRelist(epoch);
  }

  /** One full list applied as a diff, then a watch from its revision. */
  private async sync(reason: SyncReason, epoch: number, known?: KnownRecords): Promise<void> {
    await this.dropWatcher();
    // A re-list checks keys and revisions against the map first: values are read only for what changed.
    const listing = await listJobs(this.opts.client, this.opts.keys, known ?? this.known());
    if (this.epoch !== epoch) return;
    this.applyListing(listing);
    this.rev = listing.revision;
    this.watchFrom(listing.revision + 1, epoch);
    this.scheduleRelist(epoch);
    this.emit('synced', { reason, revision: listing.revision });
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
          this.opts.log.warn('re-listing the job list failed; retrying', { reason, attempt, delayMs, error: err });
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
    const w = watchOnOwnStream(this.opts.client).prefix(this.opts.keys.jobsPrefix()).startRevision(String(revision)).watcher();
    this.watcher = w;
    const current = () => this.watcher === w && this.epoch === epoch;
    w.on('data', (res: IWatchResponse) => {
      if (current()) this.applyEvents(res);
    });
    w.on('disconnected', (err) => {
      if (!current()) return;
      this.opts.log.warn('job list watch disconnected; re-listing', { error: err });
      void this.resync('disconnected');
    });
    w.on('error', (err) => {
      if (!current()) return;
      // etcd has already dropped a watch that errors (compaction cancels it): there is nothing to cancel.
      this.watcher = null;
      this.opts.log.warn('job list watch failed; re-listing', { error: err });
      void this.resync('watch-error');
    });
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
    }, this.opts.relistIntervalMs ?? DEFAULT_RELIST_INTERVAL_MS);
    this.relistTimer.unref();
  }

  private applyEvents(res: IWatchResponse): void {
    // Progress notifications carry no events; their header says everything up to it was delivered.
    let seen = res.events.length === 0 ? Number(res.header.revision) : 0;
    for (const event of res.events) {
      this.applyEvent(event);
      seen = Math.max(seen, Number(event.kv.mod_revision));
    }
    this.rev = Math.max(this.rev, seen);
  }

  private applyEvent(event: IEvent): void {
    if (event.type === 'Delete') {
      this.remove(event.kv.key.toString().slice(this.opts.keys.jobsPrefix().length));
      return;
    }
    const entry = readJobEntry(this.opts.keys, event.kv);
    if ('record' in entry) this.set(entry.name, entry.record, entry.modRevision);
    else this.noteCorrupt(entry.error, entry.modRevision);
  }

  private applyListing(listing: JobListing): void {
    for (const [name, record] of listing.records) {
      const modRevision = listing.modRevisions.get(name)!;
      if (this.modRevisions.get(name) !== modRevision) this.set(name, record, modRevision);
    }
    for (const name of [...this.records.keys()]) {
      if (!listing.records.has(name) && !listing.corrupt.has(name)) this.remove(name);
    }
    for (const error of listing.corrupt.values()) this.noteCorrupt(error, listing.modRevisions.get(error.job)!);
    this.flush();
  }

  private set(name: string, record: JobRecord, modRevision: number): void {
    this.touch(name);
    this.records.set(name, record);
    this.modRevisions.set(name, modRevision);
    this.corruptSeen.delete(name);
  }

  private remove(name: string): void {
    this.touch(name);
    this.records.delete(name);
    this.modRevisions.delete(name);
    this.corruptSeen.delete(name);
  }

  private noteCorrupt(error: JobRecordError, modRevision: number): void {
    if (this.corruptSeen.get(error.job) === modRevision) return;
    this.corruptSeen.set(error.job, modRevision);
    this.opts.log.warn('unusable job record in etcd; keeping the last good one', { job: error.job, reason: error.reason, kept: this.records.has(error.job) });
    this.emit('corrupt', error);
  }

  /** Remembers a record's state before the burst; the burst is reported once the event loop moves on. */
  private touch(name: string): void {
    if (this.pending === null) {
      this.pending = new Map();
      setImmediate(() => this.flush());
    }
    if (!this.pending.has(name)) this.pending.set(name, this.records.get(name));
  }

  private flush(): void {
    const before = this.pending;
    this.pending = null;
    if (before === null) return;
    const change: JobListChange = { added: [], changed: [], removed: [] };
    for (const [name, was] of before) {
      const now = this.records.get(name);
      // Records are replaced, never mutated, and only when their value was rewritten: identity tells a real change.
      if (was === undefined && now !== undefined) change.added.push(now);
      else if (was !== undefined && now === undefined) change.removed.push(was);
      else if (was !== undefined && now !== undefined && was !== now) change.changed.push({ before: was, after: now });
    }
    if (change.added.length + change.changed.length + change.removed.length > 0) this.emit('change', change);
  }
}
