/**
 * Reads the whole shared job list as one snapshot, page by page: a single
 * range over 100,000 records would be a ~100 MB reply, over gRPC's message
 * limit and a long stall for the member serving it.
 */
import { GRPCOutOfRangeError, Range, type Etcd3, type IKeyValue } from 'etcd3';
import type { ClusterKeys } from './keys.js';
import { decodeJobRecord, JobRecordError, type JobRecord } from './job-record.js';

/**
 * A reply over gRPC's default 4 MiB receive limit fails, and etcd3 counts that
 * failure as recoverable: retried, then the host's circuit breaker opens for
 * seconds. So pages are sized from the largest value seen so far, aiming at a
 * quarter of the limit; the first page is one key, since nothing is known yet.
 * Jobs of ~1 KB list 1,000 to a page.
 */
const PAGE_TARGET_BYTES = 1024 * 1024;
const MAX_PAGE_KEYS = 1000;

/** A compaction between two pages voids the snapshot; start over a few times before giving up. */
const MAX_LIST_ATTEMPTS = 5;

export interface JobListing {
  /** Store revision the listing is a snapshot of: watch from revision + 1 to miss nothing. */
  revision: number;
  /** Readable records by job name. */
  records: Map<string, JobRecord>;
  /** mod_revision of every key under the prefix, readable or not: what a transaction compares against. */
  modRevisions: Map<string, number>;
  /** Values that are not usable job records, by job name. */
  corrupt: Map<string, JobRecordError>;
}

export type JobEntry = { name: string; modRevision: number } & ({ record: JobRecord } | { error: JobRecordError });

/** Decodes one key-value under the jobs prefix; never throws for a bad value. */
export function readJobEntry(keys: ClusterKeys, kv: IKeyValue): JobEntry {
  const name = kv.key.toString().slice(keys.jobsPrefix().length);
  const modRevision = Number(kv.mod_revision);
  try {
    return { name, modRevision, record: decodeJobRecord(name, kv.value.toString()) };
  } catch (err) {
    if (err instanceof JobRecordError) return { name, modRevision, error: err };
    throw err;
  }
}

export async function listJobs(client: Etcd3, keys: ClusterKeys): Promise<JobListing> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await listOnce(client, keys);
    } catch (err) {
      if (!(err instanceof GRPCOutOfRangeError) || attempt >= MAX_LIST_ATTEMPTS) throw err;
    }
  }
}

async function listOnce(client: Etcd3, keys: ClusterKeys): Promise<JobListing> {
  const range = Range.prefix(keys.jobsPrefix());
  const listing: JobListing = { revision: 0, records: new Map(), modRevisions: new Map(), corrupt: new Map() };
  let start = range.start;
  let limit = 1;
  let largest = 0;
  for (;;) {
    // Every page after the first reads at the first page's revision, so the pages form one snapshot.
    const res = await client.kv.range({ key: start, range_end: range.end, limit, revision: listing.revision || undefined });
    if (listing.revision === 0) listing.revision = Number(res.header.revision);
    for (const kv of res.kvs) {
      const entry = readJobEntry(keys, kv);
      listing.modRevisions.set(entry.name, entry.modRevision);
      if ('record' in entry) listing.records.set(entry.name, entry.record);
      else listing.corrupt.set(entry.name, entry.error);
      largest = Math.max(largest, kv.key.length + kv.value.length);
    }
    if (!res.more || res.kvs.length === 0) return listing;
    start = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
    limit = Math.max(1, Math.min(MAX_PAGE_KEYS, Math.floor(PAGE_TARGET_BYTES / largest)));
  }
}
