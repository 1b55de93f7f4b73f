import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidNodeIdError,
  MAX_CLOCK_SKEW_MS,
  PeerSecretError,
  requireSecret,
  signRequest,
  verifyRequest,
  type VerifyResult,
} from '../../src/daemon/peer/peer-auth.js';

const secret = requireSecret('s'.repeat(32));
const now = Date.UTC(2026, 0, 1);
const path = '/v1/runs/01HZX5Q0000000000000000000/output?after=3&follow=1';

function reason(result: VerifyResult): string {
  assert.equal(result.ok, false);
  return result.ok ? '' : result.reason;
}

test('a signed request verifies and names its node, even one with dots', () => {
  const header = signRequest(secret, 'web-1.example.com', 'GET', path, now);
  assert.match(header, /^Bearer web-1\.example\.com\.\d+\.[0-9a-f]{64}$/);
  assert.deepEqual(verifyRequest(secret, header, 'GET', path, now), { ok: true, nodeId: 'web-1.example.com' });
});

test('the token is bound to the method, the full path with query, and the node', () => {
  const header = signRequest(secret, 'node-a', 'GET', path, now);
  assert.match(reason(verifyRequest(secret, header, 'DELETE', path, now)), /signature/);
  assert.match(reason(verifyRequest(secret, header, 'GET', path.replace('after=3', 'after=0'), now)), /signature/);
  assert.match(reason(verifyRequest(secret, header, 'GET', '/v1/history', now)), /signature/);
  assert.match(reason(verifyRequest(secret, header.replace('node-a', 'node-b'), 'GET', path, now)), /signature/);
  const timestamp = String(now);
  assert.match(reason(verifyRequest(secret, header.replace(timestamp, String(now + 1)), 'GET', path, now)), /signature/);
});

test('another secret does not verify', () => {
  const header = signRequest(requireSecret('t'.repeat(32)), 'node-a', 'GET', path, now);
  assert.match(reason(verifyRequest(secret, header, 'GET', path, now)), /secret/);
});

test('a flipped signature digit does not verify', () => {
  const header = signRequest(secret, 'node-a', 'GET', path, now);
  const last = header.at(-1) === '0' ? '1' : '0';
  assert.match(reason(verifyRequest(secret, header.slice(0, -1) + last, 'GET', path, now)), /signature/);
});

test('timestamps more than the allowed skew away are refused, with a message about clocks', () => {
  const old = signRequest(secret, 'node-a', 'GET', path, now - MAX_CLOCK_SKEW_MS - 1000);
  assert.match(reason(verifyRequest(secret, old, 'GET', path, now)), /61 s behind this host's clock; peer calls fail when clocks differ by more than 60 s/);
  const future = signRequest(secret, 'node-a', 'GET', path, now + MAX_CLOCK_SKEW_MS + 1000);
  assert.match(reason(verifyRequest(secret, future, 'GET', path, now)), /61 s ahead of this host's clock/);
});

test('timestamps inside the skew window are accepted on either side', () => {
  for (const offset of [-MAX_CLOCK_SKEW_MS, MAX_CLOCK_SKEW_MS]) {
    const header = signRequest(secret, 'node-a', 'GET', path, now + offset);
    assert.equal(verifyRequest(secret, header, 'GET', path, now).ok, true);
  }
});

test('missing and malformed headers are refused without verifying anything', () => {
  assert.match(reason(verifyRequest(secret, undefined, 'GET', path, now)), /missing/);
  const good = signRequest(secret, 'node-a', 'GET', path, now);
  for (const header of ['', 'Basic dXNlcjpwYXNz', good.replace('Bearer ', ''), good.slice(0, -2), `Bearer .${now}.${'0'.repeat(64)}`, `${good} `]) {
    assert.match(reason(verifyRequest(secret, header, 'GET', path, now)), /malformed/, header);
  }
});

test('secrets must be present and at least 32 bytes', () => {
  assert.throws(() => requireSecret(undefined), PeerSecretError);
  assert.throws(() => requireSecret(''), PeerSecretError);
  assert.throws(() => requireSecret('x'.repeat(31)), /at least 32 bytes, got 31/);
  assert.throws(() => requireSecret(Buffer.alloc(16)), PeerSecretError);
  // Length is counted in bytes: 16 two-byte characters are enough.
  assert.equal(requireSecret('é'.repeat(16)).length, 32);
  assert.equal(requireSecret(Buffer.alloc(32, 7)).length, 32);
});

test('node ids that could not round-trip through a token are refused when signing', () => {
  for (const nodeId of ['', 'has space', '.leading-dot', 'a/b']) {
    assert.throws(() => signRequest(secret, nodeId, 'GET', path, now), InvalidNodeIdError, nodeId);
  }
});
