/**
 * This host's copy of the cluster's job list, kept by a PrefixMirror: a full
 * list, then a watch from the list's revision, rebuilt from a fresh list on
 * every watch error or disconnect and on a timer (SPEC §3). The rebuild is
 * diffed against the copy, so listeners only ever hear about real changes.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../log.js';
import type { ClusterKeys } from './keys.js';
import { listJobs, readJobEntry, type JobEntry, type KnownRecords } from './job-list.js';
import type { JobRecord, JobRecordError } from './job-record.js';
import { PrefixMirror, type MirrorBatch, type MirrorEntry, type MirrorSnapshot, type SyncReason } from './prefix-mirror.js';

export type { SyncReason } from './prefix-mirror.js';

export const DEFAULT_RELIST_INTERVAL_MS = 30_000;

export interface JobListChange {
  added: JobRecord[];
  changed: Array<{ before: JobRecord; after: JobRecord }>;
  removed: JobRecord[];
}

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
  /** The last good record of each job: a job whose value turns unusable keeps it. */
  private readonly records = new Map<string, JobRecord>();
  private readonly mirror: PrefixMirror<JobEntry>;
  /** What the caller just published, for the first list only. */
  private seed: KnownRecords | undefined;
  /** Records as they were before the current burst of watch events, for names the burst touched. */
  private pending: Map<string, JobRecord | undefined> | null = null;

  constructor(private readonly opts: JobFollowerOptions) {
    super();
    const prefix = opts.keys.jobsPrefix();
    this.mirror = new PrefixMirror<JobEntry>({
      client: opts.client,
      prefix,
      decode: (kv) => readJobEntry(opts.keys, kv),
      list: (known) => this.list(known),
      what: 'job list',
      log: opts.log,
      relistIntervalMs: opts.relistIntervalMs ?? DEFAULT_RELIST_INTERVAL_MS,
    });
    this.mirror.on('changes', (batch) => this.apply(batch));
    this.mirror.on('synced', (synced) => {
      // A re-list is reported as one diff, before 'synced'.
      this.flush();
      this.emit('synced', synced);
    });
  }

  /**
   * The first start lists the jobs, reporting them all as added, and rejects
   * if etcd cannot be read. A start after stop() returns at once and resumes
   * in the background: watching from the last revision seen, or re-listing if
   * etcd has compacted that history away. `known`: records whose values the
   * caller already has (it just published them), not read back on the first list.
   */
  async start(known?: KnownRecords): Promise<void> {
    if (this.mirror.syncCount === 0) this.seed = known;
    await this.mirror.start();
  }

  async stop(): Promise<void> {
    this.flush();
    await this.mirror.stop();
  }

  /** The live map, by job name; read-only to callers. It can be ahead of the last 'change' event until the event loop turns. */
  jobs(): ReadonlyMap<string, JobRecord> {
    return this.records;
  }

  /** The store revision the map reflects. */
  revision(): number {
    return this.mirror.revision();
  }

  /** A re-list checks keys and revisions against the copy first: values are read only for what changed. */
  private async list(copy: ReadonlyMap<string, MirrorEntry<JobEntry>>): Promise<MirrorSnapshot<JobEntry>> {
    const prefix = this.opts.keys.jobsPrefix();
    const known: KnownRecords = this.seed ?? {
      size: copy.size,
      get: (name) => {
        const entry = copy.get(prefix + name)?.value;
        return entry !== undefined && 'record' in entry ? { record: entry.record, modRevision: entry.modRevision } : undefined;
      },
    };
    const listing = await listJobs(this.opts.client, this.opts.keys, known);
    this.seed = undefined;
    const entries = new Map<string, MirrorEntry<JobEntry>>();
    for (const [name, modRevision] of listing.modRevisions) {
      const record = listing.records.get(name);
      const value: JobEntry = record !== undefined ? { name, modRevision, record } : { name, modRevision, error: listing.corrupt.get(name)! };
      entries.set(prefix + name, { value, modRevision });
    }
    return { revision: listing.revision, entries };
  }

  private apply(batch: MirrorBatch<JobEntry>): void {
    const prefix = this.opts.keys.jobsPrefix();
    for (const change of batch.changes) {
      if (change.type === 'delete') this.remove(change.key.slice(prefix.length));
      else if ('record' in change.value) this.set(change.value.name, change.value.record);
      // The mirror reports a value once per write, so an unusable one is reported once, re-lists or not.
      else this.noteCorrupt(change.value.error);
    }
  }

  private set(name: string, record: JobRecord): void {
    this.touch(name);
    this.records.set(name, record);
  }

  private remove(name: string): void {
    this.touch(name);
    this.records.delete(name);
  }

  private noteCorrupt(error: JobRecordError): void {
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
