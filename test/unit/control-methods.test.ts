import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStreamMethod, isUnaryMethod, parseParams } from '../../src/daemon/control/methods.js';
import { InvalidRequestError } from '../../src/daemon/errors.js';

test('params off the socket are checked against the method table', () => {
  assert.deepEqual(parseParams('kill', { job: 'a', runId: 'R1' }), { job: 'a', runId: 'R1' });
  assert.deepEqual(parseParams('status', undefined), {});
  assert.throws(() => parseParams('run', {}), { name: 'InvalidRequestError', message: 'missing job' });
  assert.throws(() => parseParams('run', { job: '' }), InvalidRequestError);
  assert.throws(() => parseParams('run', { job: 7 }), /job must be a string/);
  assert.throws(() => parseParams('history', { limit: '5' }), /limit must be a finite number/);
  assert.throws(() => parseParams('diff', { hasErrors: true }), /missing jobs/);
  assert.throws(() => parseParams('logs', [1]), /params must be an object/);
});

test('logs takes a shard number', () => {
  assert.deepEqual(parseParams('logs', { job: 'reindex', shard: 2 }), { job: 'reindex', shard: 2 });
  assert.throws(() => parseParams('logs', { job: 'reindex', shard: '2' }), /shard must be a finite number/);
});

test('fields the table does not know are dropped; optional nulls are absent', () => {
  assert.deepEqual(parseParams('logs', { runId: 'R', follow: true, extra: 1 }), { runId: 'R', follow: true });
  assert.deepEqual(parseParams('kill', { job: 'a', runId: null }), { job: 'a' });
});

test('only the table\'s own names are methods', () => {
  assert.ok(isUnaryMethod('ls'));
  assert.ok(!isUnaryMethod('logs'));
  assert.ok(isStreamMethod('events'));
  for (const name of ['toString', '__proto__', 'constructor', 'nope']) assert.ok(!isUnaryMethod(name) && !isStreamMethod(name), name);
});
