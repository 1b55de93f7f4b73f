import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdLeaseInvalidError, GRPCInvalidArgumentError, type Etcd3, type IRequestOp } from 'etcd3';
import { connectEtcd } from '../../src/daemon/coordination/etcd/connect.js';
import { TxnBatcher, type SubTxn } from '../../src/daemon/coordination/etcd/txn-batcher.js';
import { EtcdCluster } from '../helpers/etcd.js';

let etcd: EtcdCluster | undefined;
let client: Etcd3;
let seq = 0;

before(async () => {
  etcd = await EtcdCluster.start(1);
  client = connectEtcd({ endpoints: etcd.hosts });
});

after(async () => {
  client?.close();
  await etcd?.stop();
});

const b = (s: string) => Buffer.from(s);
const put = (key: string, value: string): IRequestOp => ({ request_put: { key: b(key), value: b(value) } });
const del = (key: string): IRequestOp => ({ request_delete_range: { key: b(key) } });
const get = (key: string): IRequestOp => ({ request_range: { key: b(key) } });
/** Put `value` at `key` only if the key is absent; else read it. */
const create = (key: string, value: string): SubTxn => ({ compare: [{ key: b(key), target: 'Create', result: 'Equal', create_revision: 0 }], success: [put(key, value)], failure: [get(key)] });

test('transactions asked for in one turn go in one request, each with its own outcome and the request\'s revision', async () => {
  const batcher = new TxnBatcher(client);
  const p = `/batch/${++seq}/`;
  await client.put(`${p}k3`).value('there');
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.txn(create(`${p}k${i}`, 'new'))));
  assert.equal(batcher.stats.requests, 1);
  assert.deepEqual(results.map((r) => r.succeeded), Array.from({ length: 10 }, (_, i) => i !== 3));
  assert.equal(results[3].responses[0].response_range.kvs[0].value.toString(), 'there');
  assert.equal(new Set(results.map((r) => r.revision)).size, 1);
  assert.equal(await client.get(`${p}k0`).string(), 'new');
});

test('two transactions writing the same key never share a request and apply in the order asked', async () => {
  const batcher = new TxnBatcher(client);
  const p = `/batch/${++seq}/`;
  const asked = [
    batcher.txn({ compare: [], success: [put(`${p}k`, '1')], failure: [] }),
    batcher.txn({ compare: [], success: [put(`${p}other`, 'x')], failure: [] }),
    batcher.txn({ compare: [], success: [del(`${p}k`)], failure: [] }),
    batcher.txn({ compare: [], success: [put(`${p}k`, '3')], failure: [] }),
  ];
  const results = await Promise.all(asked);
  assert.ok(results[0].revision < results[2].revision && results[2].revision < results[3].revision, JSON.stringify(results.map((r) => r.revision)));
  assert.equal(await client.get(`${p}k`).string(), '3');
  assert.equal(batcher.stats.requests, 3);
});

test('more transactions than fit in one request are split; a batch etcd refuses is retried one by one, failing only the bad one', async () => {
  const batcher = new TxnBatcher(client, { maxPerRequest: 16 });
  const p = `/batch/${++seq}/`;
  const good = Array.from({ length: 40 }, (_, i) => batcher.txn({ compare: [], success: [put(`${p}g${i}`, 'v')], failure: [] }));
  // 200 operations in one transaction: over etcd's --max-txn-ops, alone or not.
  const bad = batcher.txn({ compare: [], success: Array.from({ length: 200 }, (_, i) => put(`${p}bad${i}`, 'v')), failure: [] });
  await Promise.all([...good, assert.rejects(bad, GRPCInvalidArgumentError)]);
  assert.equal((await client.getAll().prefix(`${p}g`).keys()).length, 40);
  assert.equal((await client.getAll().prefix(`${p}bad`).keys()).length, 0);
});

test('a put under a lease that no longer exists fails alone, not the claims and releases it was batched with', async () => {
  const batcher = new TxnBatcher(client);
  const p = `/batch/${++seq}/`;
  const { ID } = await client.leaseClient.leaseGrant({ TTL: 30 });
  await client.leaseClient.leaseRevoke({ ID });
  const others = Array.from({ length: 5 }, (_, i) => batcher.txn(create(`${p}k${i}`, 'v')));
  const leased = batcher.txn({ compare: [], success: [{ request_put: { key: b(`${p}leased`), value: b('v'), lease: ID } }], failure: [] });
  await Promise.all([...others, assert.rejects(leased, EtcdLeaseInvalidError)]);
  assert.equal((await client.getAll().prefix(`${p}k`).keys()).length, 5);
});
