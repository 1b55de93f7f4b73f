/**
 * Publishes one host's crontab to the shared job list in etcd.
 *
 * What changes is decided by diffJobList, the same function `dcron validate
 * --diff` shows. Each write is conditional on the key's mod_revision as read,
 * so nothing is decided on stale data: when another host wrote in between,
 * the failure branch of the same transaction reads the keys back, those jobs
 * are diffed again, and the write is retried. Conflicting definitions from two
 * hosts therefore end as the last write in etcd's order, and every overwrite
 * of another host's definition is logged and returned.
 *
 * Unchanged jobs are not written at all, so hosts sharing one file publish it
 * without moving the store's revision.
 */
import { Range, type Etcd3, type ICompare, type IRangeResponse, type IRequestOp } from 'etcd3';
import type { JobDefinition } from '../../crontab/types.js';
import { DcronError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ClusterKeys } from './keys.js';
import { diffJobList, type FieldChange, type JobDiff, type JobModification } from './job-diff.js';
import { listJobs, readJobEntry, type KnownRecords } from './job-list.js';
import { encodeJobRecord, JOB_RECORD_VERSION, type JobRecord, type JobRecordError } from './job-record.js';

/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS = 128;
/** etcd refuses requests over 1.5 MiB (--max-request-bytes); values get 1 MiB, the rest is room for keys, compares and framing. */
export const MAX_TXN_VALUE_BYTES = 1024 * 1024;
/** Transactions in flight at once: enough to hide round trips, few enough not to crowd out claims. */
const CONCURRENCY = 8;
/** Each retry re-reads and re-diffs, so only a host rewriting the same jobs nonstop can exhaust this. */
const MAX_ATTEMPTS = 10;
/**
 * How long a removed job's cursor outlives its record (see Publish.writeOps). It
 * must exceed the claim lead (at most 5 s), the late grace (5 s by default)
 * and the clock skew between hosts by a wide margin; the cost is one key per
 * removed job for that long.
 */
export const RETIRED_CURSOR_TTL_SECONDS = 600;

export interface PublishOptions {
  nodeId: string;
  /** Crontab path on this host. */
  file: string;
  fileHash: string;
  jobs: readonly JobDefinition[];
  /** The file had errors: publish its valid jobs, remove nothing. */
  hasErrors: boolean;
  log: Logger;
  now?: () => number;
  /** Overrides RETIRED_CURSOR_TTL_SECONDS (tests). */
  retiredCursorTtlSeconds?: number;
}

export interface JobConflict {
  job: string;
  previous: { writer: string; file: string; writtenMs: number };
  next: { writer: string; file: string };
  fields: FieldChange[];
}

export interface PublishResult {
  /** Store revision after publishing: of the last write, or of the read when nothing was written. */
  revision: number;
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  keptBecauseErrors: string[];
  keptBecauseOtherWriter: string[];
  /** Definitions of other hosts this publish replaced. */
  conflicts: JobConflict[];
  /** Unusable values under the jobs prefix: left alone, or replaced when this file defines that job. */
  corrupt: JobRecordError[];
  /**
   * Every record this publish read or wrote, with the revision it has in
   * etcd: a follower listing right after need not read them back.
   */
  known: KnownRecords;
}

/** Publishing gave up; jobs already written stay written, and the next publish continues from there. */
export class JobPublishError extends DcronError {}

type Fate = 'added' | 'changed' | 'removed' | 'unchanged' | 'keptBecauseErrors' | 'keptBecauseOtherWriter';

interface Write {
  name: string;
  key: Buffer;
  /** null: delete. */
  value: Buffer | null;
  /** mod_revision the key had when read; 0 when absent. */
  expectedModRevision: number;
  /** Set when this write replaces another definition. */
  change?: JobModification;
  /** What `value` encodes (absent for a delete). */
  record?: JobRecord;
}

export async function publishJobs(client: Etcd3, keys: ClusterKeys, opts: PublishOptions): Promise<PublishResult> {
  const startedMs = Date.now();
  const listing = await listJobs(client, keys);
  for (const err of listing.corrupt.values()) opts.log.warn('unusable job record in etcd', { job: err.job, reason: err.reason });

  const run = new Publish(client, keys, opts, listing.modRevisions, listing.corrupt, listing.records);
  const revision = Math.max(listing.revision, await run.apply(diffJobList(listing.records, opts.jobs, opts.nodeId, opts.hasErrors)));

  const result = run.result(revision);
  opts.log.info('published crontab to the cluster', {
    file: opts.file,
    added: result.added.length,
    changed: result.changed.length,
    removed: result.removed.length,
    unchanged: result.unchanged.length,
    kept: result.keptBecauseErrors.length + result.keptBecauseOtherWriter.length,
    conflicts: result.conflicts.length,
    revision,
    durationMs: Date.now() - startedMs,
  });
  return result;
}

/** State of one publishJobs call; batches touch disjoint job names, so they share it safely. */
class Publish {
  private readonly fates = new Map<string, Fate>();
  private readonly conflicts: JobConflict[] = [];
  private readonly fileJobs: Map<string, JobDefinition>;
  private readonly writtenMs: number;
  private readonly known = new Map<string, { record: JobRecord; modRevision: number }>();
  /** The lease removed jobs' cursors are put under, granted on the first removal of this publish. */
  private retiredCursorLease: Promise<string> | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly opts: PublishOptions,
    private readonly modRevisions: Map<string, number>,
    private readonly corrupt: Map<string, JobRecordError>,
    listed: ReadonlyMap<string, JobRecord>,
  ) {
    this.fileJobs = new Map(opts.jobs.map((def) => [def.name, def]));
    this.writtenMs = (opts.now ?? Date.now)();
    for (const [name, record] of listed) this.known.set(name, { record, modRevision: modRevisions.get(name)! });
  }

  /**
   * Writes the diff in transactions within etcd's limits; resolves to the
   * highest revision written (0: none). Records are encoded batch by batch as
   * transactions go out: encoding 100,000 first held etcd idle for a second.
   */
  async apply(diff: JobDiff): Promise<number> {
    this.settle(diff);
    let revision = 0;
    await inPool(batches(this.writesFor(diff), (w) => this.writeOps(w, '0').length), CONCURRENCY, async (batch) => {
      const written = await this.commit(batch);
      revision = Math.max(revision, written);
    });
    return revision;
  }

  /** Records what the diff decided for each job it names; a later diff of the same jobs overrides. */
  private settle(diff: JobDiff): void {
    for (const { name } of diff.add) this.fates.set(name, 'added');
    for (const { name } of diff.change) this.fates.set(name, 'changed');
    for (const { name } of diff.remove) this.fates.set(name, 'removed');
    for (const name of diff.unchanged) this.fates.set(name, 'unchanged');
    for (const { name } of diff.keptBecauseErrors) this.fates.set(name, 'keptBecauseErrors');
    for (const { name } of diff.keptBecauseOtherWriter) this.fates.set(name, 'keptBecauseOtherWriter');
  }

  result(revision: number): PublishResult {
    const byFate = (fate: Fate) => [...this.fates].filter(([, f]) => f === fate).map(([name]) => name).sort();
    return {
      revision,
      added: byFate('added'),
      changed: byFate('changed'),
      removed: byFate('removed'),
      unchanged: byFate('unchanged'),
      keptBecauseErrors: byFate('keptBecauseErrors'),
      keptBecauseOtherWriter: byFate('keptBecauseOtherWriter'),
      conflicts: this.conflicts.sort(byJob),
      corrupt: [...this.corrupt.values()].sort(byJob),
      known: this.known,
    };
  }

  private async commit(batch: Write[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const lease = batch.some((w) => w.value === null) ? await this.leaseForRetiredCursors() : '0';
      const res = await this.client.kv.txn({
        compare: batch.map((w): ICompare => ({ key: w.key, target: 'Mod', result: 'Equal', mod_revision: w.expectedModRevision })),
        success: batch.flatMap((w) => this.writeOps(w, lease)),
        failure: batch.map((w): IRequestOp => ({ request_range: { key: w.key } })),
      });
      if (res.succeeded) {
        this.reportConflicts(batch);
        const revision = Number(res.header.revision);
        for (const w of batch) {
          if (w.record) this.known.set(w.name, { record: w.record, modRevision: revision });
          else this.known.delete(w.name);
        }
        return revision;
      }
      if (attempt === MAX_ATTEMPTS) {
        throw new JobPublishError(`gave up publishing ${batch.length} jobs after ${attempt} attempts: another host keeps rewriting them (first: '${batch[0].name}')`);
      }
      const plan = this.rediff(batch.map((w) => w.name), res.responses.map((r) => r.response_range));
      this.settle(plan);
      batch = [...this.writesFor(plan)];
      if (batch.length === 0) return 0;
    }
  }

  /**
   * A job's record and the keys claims keep for it change in one transaction,
   * guarded by the record's mod_revision: they go together or not at all.
   *
   * Removal deletes the job's last-claim keys and fence key (the busy mark
   * stays: it is under a runner's lease and must hold while that run goes
   * on). Per-host cursors (mode=all) stay, one per host: deleted, a job
   * re-added within the claim lead would start them at now, before a tick
   * a host already claimed and handed to its executor, and run it twice;
   * their keys are not known here to put under a lease.
   *
   * The shared cursor is not deleted but put under a lease that expires
   * after RETIRED_CURSOR_TTL_SECONDS, because an absent cursor lets any
   * claim through (that is how a new job's first tick is claimed):
   *  - a node that has not yet seen the removal may still be claiming the
   *    last tick; had the cursor gone, its claim would win a tick already
   *    claimed and run it twice. While the cursor lives it loses, as before;
   *  - a job re-added meanwhile keeps the cursor: the add's transaction puts
   *    it again without a lease (value untouched), so it never goes back. A
   *    job re-added after the cursor expired starts from min(now, its
   *    re-publish time) (EtcdCoordinator.startCursor), which is then later
   *    than any tick claimed before removal (claimed at most the claim lead
   *    plus the clock skew ahead of the removal) and past any claim still
   *    retrying (the late grace), so no tick is claimed again, catchup
   *    included.
   * A claim that moves the cursor after the removal puts it without the lease:
   * that cursor stays until the job's next removal (a node running a removed
   * job's tick is the rarer leak).
   */
  private writeOps(w: Write, retiredCursorLease: string): IRequestOp[] {
    const cursor = Buffer.from(this.keys.cursor(w.name));
    // Nested: a put that keeps the value fails the whole transaction on a missing key.
    const repointCursor = (lease: string): IRequestOp => ({
      request_txn: {
        compare: [{ key: cursor, target: 'Create', result: 'Greater', create_revision: 0 }],
        success: [{ request_put: { key: cursor, ignore_value: true, lease } }],
        failure: [],
      },
    });
    if (w.value !== null) return w.expectedModRevision === 0 ? [writeOp(w), repointCursor('0')] : [writeOp(w)];
    // Prefixes ending in `/`: the job's shards' keys (claimed/ covers them too), never another job's.
    const range = (prefix: string): IRequestOp => {
      const r = Range.prefix(prefix);
      return { request_delete_range: { key: r.start, range_end: r.end } };
    };
    return [
      writeOp(w),
      repointCursor(retiredCursorLease),
      range(this.keys.lastClaimsPrefix(w.name)),
      { request_delete_range: { key: Buffer.from(this.keys.fence(w.name)) } },
      // A sharded job's per-shard cursors go at once, not under the retired lease: a re-add starts
      // its shards where the re-published record says (min(now, publish time)), past every tick
      // claimed before, as for a cursor whose lease ran out.
      range(this.keys.shardCursorsPrefix(w.name)),
      range(this.keys.shardFencesPrefix(w.name)),
      range(this.keys.tickLedgersPrefix(w.name)),
      { request_delete_range: { key: Buffer.from(this.keys.doneOf(w.name)) } },
    ];
  }

  /** One grant per publish: a failed one fails the publish, and the next publish asks anew. */
  private leaseForRetiredCursors(): Promise<string> {
    this.retiredCursorLease ??= this.client.leaseClient.leaseGrant({ TTL: this.opts.retiredCursorTtlSeconds ?? RETIRED_CURSOR_TTL_SECONDS }).then((res) => String(res.ID));
    return this.retiredCursorLease;
  }

  /** Diffs `names` again against the values the failed transaction read back. */
  private rediff(names: string[], reads: IRangeResponse[]): JobDiff {
    const cluster = new Map<string, JobRecord>();
    names.forEach((name) => {
      this.fates.delete(name);
      this.modRevisions.delete(name);
    });
    names.forEach((name) => this.known.delete(name));
    for (const kv of reads.flatMap((r) => r.kvs)) {
      const entry = readJobEntry(this.keys, kv);
      this.modRevisions.set(entry.name, entry.modRevision);
      if ('record' in entry) {
        cluster.set(entry.name, entry.record);
        this.known.set(entry.name, { record: entry.record, modRevision: entry.modRevision });
      }
      else {
        this.opts.log.warn('unusable job record in etcd', { job: entry.name, reason: entry.error.reason });
        this.corrupt.set(entry.name, entry.error);
      }
    }
    const fileJobs = names.flatMap((name) => this.fileJobs.get(name) ?? []);
    return diffJobList(cluster, fileJobs, this.opts.nodeId, this.opts.hasErrors);
  }

  private *writesFor(diff: JobDiff): Generator<Write> {
    const put = ({ name, def }: { name: string; def: JobDefinition }, change?: JobModification): Write => {
      const record = this.recordFor(def);
      return { name, key: Buffer.from(this.keys.job(name)), value: Buffer.from(encodeJobRecord(record)), expectedModRevision: this.modRevisions.get(name) ?? 0, change, record };
    };
    const del = ({ name }: { name: string }): Write => ({
      name,
      key: Buffer.from(this.keys.job(name)),
      value: null,
      expectedModRevision: this.modRevisions.get(name) ?? 0,
    });
    for (const a of diff.add) yield put(a);
    for (const c of diff.change) yield put(c, c);
    for (const r of diff.remove) yield del(r);
  }

  private recordFor(def: JobDefinition): JobRecord {
    const { nodeId, file, fileHash } = this.opts;
    return { v: JOB_RECORD_VERSION, def, writer: nodeId, file, fileHash, writtenMs: this.writtenMs };
  }

  private reportConflicts(batch: Write[]): void {
    for (const { change } of batch) {
      if (!change?.overwrites) continue;
      const { writer, file, writtenMs } = change.previous;
      const conflict: JobConflict = { job: change.name, previous: { writer, file, writtenMs }, next: { writer: this.opts.nodeId, file: this.opts.file }, fields: change.fields };
      this.conflicts.push(conflict);
      this.opts.log.warn('job definition replaces one published by another host', {
        job: conflict.job,
        previousWriter: writer,
        previousFile: file,
        writer: conflict.next.writer,
        file: conflict.next.file,
        changes: change.fields.map((f) => `${f.field}: ${f.before} -> ${f.after}`),
      });
    }
  }
}

function byJob(a: { job: string }, b: { job: string }): number {
  return a.job < b.job ? -1 : a.job > b.job ? 1 : 0;
}

function writeOp(w: Write): IRequestOp {
  return w.value === null ? { request_delete_range: { key: w.key } } : { request_put: { key: w.key, value: w.value } };
}

/**
 * Splits writes into transactions under both etcd limits, operation count
 * (`opsOf`: the success operations a write expands to) and request size, as
 * they are taken.
 */
function* batches(writes: Iterable<Write>, opsOf: (w: Write) => number): Generator<Write[]> {
  let current: Write[] = [];
  let bytes = 0;
  let ops = 0;
  for (const w of writes) {
    const size = w.key.length + (w.value?.length ?? 0);
    const n = opsOf(w);
    if (current.length > 0 && (ops + n > MAX_OUTER_OPS || bytes + size > MAX_TXN_VALUE_BYTES)) {
      yield current;
      current = [];
      bytes = 0;
      ops = 0;
    }
    current.push(w);
    bytes += size;
    ops += n;
  }
  if (current.length > 0) yield current;
}

/**
 * etcd checks a nested transaction (the cursor's guarded put) against what
 * the outer one leaves of --max-txn-ops: the outer one keeps room for it.
 */
const MAX_OUTER_OPS = MAX_TXN_OPS - 1;

/** Runs `fn` over what `items` yields, at most `limit` at a time; after a failure no new item is taken. */
async function inPool<T>(items: Iterator<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let failed = false;
  const worker = async () => {
    while (!failed) {
      const next = items.next();
      if (next.done) return;
      try {
        await fn(next.value);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
