/** The few etcd transaction parts the coordination modules build, spelled once. */
import { CompareResult, CompareTarget, type ICompare, type IRequestOp, type IResponseOp, type Range } from 'etcd3';

/** The key does not exist. */
export const absent = (key: string): ICompare => ({ key: Buffer.from(key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 });

/** The key exists and holds exactly `value`. */
export const holds = (key: string, value: string): ICompare => ({ key: Buffer.from(key), target: CompareTarget.Value, result: CompareResult.Equal, value: Buffer.from(value) });

/** Some key exists in the range, and none of them holds `value` (etcd fails a value compare on an empty range). */
export const noneHolds = (range: Range, value: string): ICompare => ({ key: range.start, range_end: range.end, target: CompareTarget.Value, result: CompareResult.NotEqual, value: Buffer.from(value) });

export const put = (key: string, value: string, lease?: string): IRequestOp => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease } });

export const get = (key: string): IRequestOp => ({ request_range: { key: Buffer.from(key) } });

export const getRange = (range: Range): IRequestOp => ({ request_range: { key: range.start, range_end: range.end } });

export const deleteRange = (range: Range): IRequestOp => ({ request_delete_range: { key: range.start, range_end: range.end } });

/** A key as a read found it: what a later compare-and-swap compares against. */
export type KeySeen = { value: string; modRevision: string };

/** The one key a `get` read, or null. */
export function readOne(response: IResponseOp): KeySeen | null {
  const kv = response.response_range.kvs[0];
  return kv === undefined ? null : { value: kv.value.toString(), modRevision: String(kv.mod_revision) };
}
