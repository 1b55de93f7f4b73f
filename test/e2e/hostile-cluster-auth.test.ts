/**
 * A cluster confined by etcd auth to its own namespace, and its peer API
 * refusing whoever does not hold the cluster's secret. cluster-auth.test.ts
 * shows a user limited to /dcron/ works; here the user is limited to one
 * cluster's prefix (/dcron/NAME/), as when clusters share an etcd, and the
 * limit is shown to be real: the daemon needs nothing outside it, the user
 * cannot write outside it, and another cluster's name is refused.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { Etcd3, Range } from 'etcd3';
import type { NodeView } from '../../src/daemon/control/api-types.js';
import { requireSecret, signRequest } from '../../src/daemon/peer/peer-auth.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

const ws = new Workspace();
let etcd: EtcdCluster | undefined;
after(async () => {
  await etcd?.stop();
  ws.cleanup();
});

const CLUSTER = 'tenant-a';

async function etcdWithTenant(): Promise<EtcdCluster> {
  const cluster = await EtcdCluster.start(1);
  const admin = new Etcd3({ hosts: cluster.hosts });
  try {
    await admin.role('root').create();
    await admin.user('root').create('root-secret');
    await admin.user('root').addRole('root');
    await admin.role(CLUSTER).create();
    await admin.role(CLUSTER).grant({ permission: 'Readwrite', range: Range.prefix(`/dcron/${CLUSTER}/`) });
    await admin.user(CLUSTER).create('tenant-secret');
    await admin.user(CLUSTER).addRole(CLUSTER);
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
  return cluster;
}

function get(url: string, authorization?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: authorization ? { authorization } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a daemon confined to its cluster\'s prefix runs jobs, writes nothing elsewhere, and its peer API wants the cluster secret', { timeout: 90_000 }, async () => {
  etcd = await etcdWithTenant();
  const ledger = ws.path('ledger');
  writeFileSync(ws.crontab, `#dcron name=confined\n* * * * * * echo "$DCRON_TICK_MS" >> ${ledger}\n`);
  const base = ['--etcd', etcd.endpoints, '--etcd-user', CLUSTER, '--crontab', ws.crontab, '--node-id', 'confined-node'];
  const env = { DCRON_ETCD_PASSWORD: 'tenant-secret' };

  // Another cluster's namespace is out of this user's reach: the daemon says so and stops.
  const elsewhere = await cli(['daemon', '--data-dir', ws.path('elsewhere'), ...base, '--cluster', 'tenant-b'], { env, timeoutMs: 30_000 });
  assert.notEqual(elsewhere.code, 0);
  assert.match(elsewhere.stderr, /etcd denied user 'tenant-a' access to the cluster's keys under \/dcron\/tenant-b\//);
  assert.doesNotMatch(elsewhere.stderr, /^\s+at /m, 'a setup problem, not a crash: no stack trace');
  const wrong = await cli(['daemon', '--data-dir', ws.path('wrong'), ...base, '--cluster', CLUSTER], { env: { DCRON_ETCD_PASSWORD: 'guess' }, timeoutMs: 30_000 });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /authentication failed, invalid user ID or password/);
  assert.doesNotMatch(wrong.stderr, /^\s+at /m);

  const daemon = await DaemonProcess.launch({ dataDir: ws.dataDir, args: [...base, '--cluster', CLUSTER], env });
  try {
    await waitFor('the job to run twice', () => existsSync(ledger) && readFileSync(ledger, 'utf8').trim().split('\n').length >= 2, 20_000);

    const root = new Etcd3({ hosts: etcd.hosts, auth: { username: 'root', password: 'root-secret' } });
    const tenant = new Etcd3({ hosts: etcd.hosts, auth: { username: CLUSTER, password: 'tenant-secret' } });
    try {
      const keys = await root.getAll().prefix('/').keys();
      assert.ok(keys.length > 0);
      for (const key of keys) assert.ok(key.startsWith(`/dcron/${CLUSTER}/`), `the daemon wrote ${key}`);
      await assert.rejects(tenant.put('/dcron/tenant-b/x').value('1').exec(), /permission denied/i, 'the limit is real');
      await assert.rejects(tenant.put('/other').value('1').exec(), /permission denied/i);

      // The peer API of the real daemon: nothing without the cluster's secret, everything with it.
      const [self] = (JSON.parse((await cli(['nodes', '--json'], { dataDir: ws.dataDir })).stdout) as NodeView[]).filter((n) => n.self);
      assert.ok(self.peerUrl, 'the node advertises its peer API');
      const history = `${self.peerUrl!.replace(/\/$/, '')}/v1/history`;
      const path = new URL(history).pathname;
      const none = await get(history);
      assert.equal(none.status, 401);
      assert.doesNotMatch(none.body, /confined/);
      const forged = await get(history, signRequest(requireSecret(randomBytes(32)), 'intruder', 'GET', path, Date.now()));
      assert.equal(forged.status, 401);
      const secret = await root.get(`/dcron/${CLUSTER}/peer-secret`).string();
      const stale = await get(history, signRequest(requireSecret(Buffer.from(secret!)), 'peer', 'GET', path, Date.now() - 10 * 60_000));
      assert.equal(stale.status, 401, 'an expired token is refused even with the right secret');
      const real = await get(history, signRequest(requireSecret(Buffer.from(secret!)), 'peer', 'GET', path, Date.now()));
      assert.equal(real.status, 200);
      assert.match(real.body, /confined/);
    } finally {
      root.close();
      tenant.close();
    }
  } finally {
    await daemon.stop();
  }
});
