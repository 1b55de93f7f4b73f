/**
 * Reads the whole shared job list as one snapshot, page by page: a single
 * range over 100,000 records would be a ~100 MB reply, over gRPC's message
 * limit and a long stall for the member serving it.
 */
import { GRPCOutOfRangeError, Range, type Etcd3, type IKeyValue } from 'etcd3';
import type { ClusterKeys } from './keys.js';
import { decodeJobRecord, JobRecordError, type JobRecord } from './job-record.js';

/** Records are ~1 KB: 500 keeps a page well under gRPC's default 4 MiB receive limit. */
export const LIST_PAGE_SIZE = 500;

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

export async function listJobs(client: Etcd3, keys: ClusterKeys, pageSize = LIST_PAGE_SIZE): Promise<JobListing> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await listOnce(client, keys, pageSize);
    } catch (err) {
      if (!(err instanceof GRPCOutOfRangeError) || attempt >= MAX_LIST_ATTEMPTS) throw err;
    }
  }
}

async function listOnce(client: Etcd3, keys: ClusterKeys, pageSize: number): Promise<JobListing> {
  const range = Range.prefix(keys.jobsPrefix());
  const listing: JobListing = { revision: 0, records: new Map(), modRevisions: new Map(), corrupt: new Map() };
  let start = range.start;
  for (;;) {
    // Every page after the first reads at the first page's revision, so the pages form one snapshot.
    const res = await client.kv.range({ key: start, range_end: range.end, limit: pageSize, revision: listing.revision || undefined });
    if (listing.revision === 0) listing.revision = Number(res.header.revision);
    for (const kv of res.kvs) {
      const entry = readJobEntry(keys, kv);
      listing.modRevisions.set(entry.name, entry.modRevision);
      if ('record' in entry) listing.records.set(entry.name, entry.record);
      else listing.corrupt.set(entry.name, entry.error);
    }
    if (!res.more || res.kvs.length === 0) return listing;
    start = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
  }
}
