import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEtcd, EtcdCredentialsError } from '../../src/daemon/coordination/etcd/connect.js';

test('connectEtcd rejects TLS files it cannot read, and a certificate without its key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcron-tls-'));
  try {
    const cert = join(dir, 'client.pem');
    writeFileSync(cert, 'not checked here');
    assert.throws(() => connectEtcd({ endpoints: ['https://127.0.0.1:2379'], tls: { caFile: join(dir, 'missing-ca.pem') } }), EtcdCredentialsError);
    assert.throws(() => connectEtcd({ endpoints: ['https://127.0.0.1:2379'], tls: { certFile: cert, keyFile: join(dir, 'missing.key') } }), EtcdCredentialsError);
    assert.throws(() => connectEtcd({ endpoints: ['https://127.0.0.1:2379'], tls: { certFile: cert } }), EtcdCredentialsError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
