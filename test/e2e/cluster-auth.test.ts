import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Etcd3, Range } from 'etcd3';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

const ws = new Workspace();
let etcd: EtcdCluster | undefined;
after(async () => {
  await etcd?.stop();
  ws.cleanup();
});

/** etcd with auth on: root, plus a `dcron` user whose role reaches only /dcron/. */
async function etcdWithAuth(): Promise<EtcdCluster> {
  const cluster = await EtcdCluster.start(1);
  const admin = new Etcd3({ hosts: cluster.hosts });
  try {
    await admin.role('root').create();
    await admin.user('root').create('root-secret');
    await admin.user('root').addRole('root');
    await admin.role('dcron').create();
    await admin.role('dcron').grant({ permission: 'Readwrite', range: Range.prefix('/dcron/') });
    await admin.user('dcron').create('dcron-secret');
    await admin.user('dcron').addRole('dcron');
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
  return cluster;
}

test('cluster mode works against etcd with auth, as a user limited to its prefix', async () => {
  etcd = await etcdWithAuth();
  const ledger = ws.path('ledger');
  writeFileSync(ws.crontab, `#dcron name=auth-job\n* * * * * * echo "$DCRON_TICK_MS" >> ${ledger}\n`);
  const args = ['--etcd', etcd.endpoints, '--crontab', ws.crontab, '--node-id', 'auth-node', '--etcd-user', 'dcron'];

  const refused = await cli(['daemon', '--data-dir', ws.path('refused'), ...args], { env: { DCRON_ETCD_PASSWORD: 'wrong' } });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /auth|password|permission/i);

  const daemon = await DaemonProcess.launch({ dataDir: ws.dataDir, args, env: { DCRON_ETCD_PASSWORD: 'dcron-secret' } });
  try {
    await waitFor('the job to run', () => existsSync(ledger) && readFileSync(ledger, 'utf8').trim().split('\n').length >= 2);
    const nodes = await cli(['nodes'], { dataDir: ws.dataDir });
    assert.match(nodes.stdout, /auth-node \*\s+ok/);
  } finally {
    await daemon.stop();
  }
});
