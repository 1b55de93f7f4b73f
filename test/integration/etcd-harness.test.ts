import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdCluster } from '../helpers/etcd.js';

test('the test harness starts a 3-member etcd cluster on loopback and stops it', async () => {
  const cluster = await EtcdCluster.start(3);
  try {
    assert.equal(cluster.hosts.length, 3);
    const res = await fetch(`${cluster.hosts[0]}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('k').toString('base64'), value: Buffer.from('v').toString('base64') }) });
    assert.equal(res.status, 200);
    const got = await fetch(`${cluster.hosts[2]}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('k').toString('base64') }) });
    const body = (await got.json()) as { kvs: Array<{ value: string }> };
    assert.equal(Buffer.from(body.kvs[0].value, 'base64').toString(), 'v', 'a write on one member is read on another');
  } finally {
    await cluster.stop();
  }
});
