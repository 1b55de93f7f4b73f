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
/** Pages of a keys-only listing: ~100 bytes a key. */
const KEYS_PAGE = 10_000;

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

/** Records whose stored value is known, by job name: the value at `modRevision` is `record`. */
export interface KnownRecords {
  readonly size: number;
  get(name: string): { record: JobRecord; modRevision: number } | undefined;
}

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

/**
 * With `known` (what a host just published, say), the list first reads
 * keys and revisions only; when every key is at a revision whose record is
 * known, those records are the listing and no value crosses the wire: a
 * host that has just written 100,000 jobs does not read 100 MB back.
 * Otherwise the values are read too, and known records are not decoded again.
 */
export async function listJobs(client: Etcd3, keys: ClusterKeys, known?: KnownRecords): Promise<JobListing> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (known && known.size > 0) {
        const listing = await listKnown(client, keys, known);
        if (listing) return listing;
      }
      return await listOnce(client, keys, known);
    } catch (err) {
      if (!(err instanceof GRPCOutOfRangeError) || attempt >= MAX_LIST_ATTEMPTS) throw err;
    }
  }
}

/** The listing from `known` alone, or null when some key holds a value it does not know. */
async function listKnown(client: Etcd3, keys: ClusterKeys, known: KnownRecords): Promise<JobListing | null> {
  const range = Range.prefix(keys.jobsPrefix());
  const prefixLength = keys.jobsPrefix().length;
  const listing: JobListing = { revision: 0, records: new Map(), modRevisions: new Map(), corrupt: new Map() };
  let start = range.start;
  for (;;) {
    const res = await client.kv.range({ key: start, range_end: range.end, limit: KEYS_PAGE, keys_only: true, revision: listing.revision || undefined });
    if (listing.revision === 0) listing.revision = Number(res.header.revision);
    for (const kv of res.kvs) {
      const name = kv.key.toString().slice(prefixLength);
      const modRevision = Number(kv.mod_revision);
      const k = known.get(name);
      if (k?.modRevision !== modRevision) return null;
      listing.modRevisions.set(name, modRevision);
      listing.records.set(name, k.record);
    }
    if (!res.more || res.kvs.length === 0) return listing;
    start = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
  }
}

async function listOnce(client: Etcd3, keys: ClusterKeys, known?: KnownRecords): Promise<JobListing> {
  const range = Range.prefix(keys.jobsPrefix());
  const prefixLength = keys.jobsPrefix().length;
  const listing: JobListing = { revision: 0, records: new Map(), modRevisions: new Map(), corrupt: new Map() };
  const page = (start: Buffer, limit: number) => {
    const res = client.kv.range({ key: start, range_end: range.end, limit, revision: listing.revision || undefined });
    // Awaited on the next turn of the loop; if decoding this page throws first, the failure is not unhandled.
    res.catch(() => {});
    return res;
  };
  let next = page(range.start, 1);
  let largest = 0;
  for (;;) {
    // Every page after the first reads at the first page's revision, so the pages form one snapshot.
    const res = await next;
    if (listing.revision === 0) listing.revision = Number(res.header.revision);
    for (const kv of res.kvs) largest = Math.max(largest, kv.key.length + kv.value.length);
    const more = res.more && res.kvs.length > 0;
    // The next page is asked for before this one is decoded: etcd's reading and ours overlap.
    if (more) next = page(Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]), Math.max(1, Math.min(MAX_PAGE_KEYS, Math.floor(PAGE_TARGET_BYTES / largest))));
    for (const kv of res.kvs) {
      const k = known?.get(kv.key.toString().slice(prefixLength));
      const entry: JobEntry = k !== undefined && k.modRevision === Number(kv.mod_revision) ? { name: kv.key.toString().slice(prefixLength), modRevision: k.modRevision, record: k.record } : readJobEntry(keys, kv);
      listing.modRevisions.set(entry.name, entry.modRevision);
      if ('record' in entry) listing.records.set(entry.name, entry.record);
      else listing.corrupt.set(entry.name, entry.error);
    }
    if (!more) return listing;
  }
}
