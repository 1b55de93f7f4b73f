import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputCap } from '../../src/daemon/executor/output-cap.js';
import { formatBytes } from '../../src/daemon/crontab/size.js';

const bytes = (n: number, fill = 0x61): Buffer => Buffer.alloc(n, fill);

test('chunks under the cap pass through whole', () => {
  const cap = new OutputCap(10);
  const chunk = bytes(4);
  const admitted = cap.admit(chunk);
  assert.equal(admitted.keep, chunk);
  assert.equal(admitted.crossed, false);
  assert.equal(cap.seenBytes, 4);
  assert.equal(cap.truncated, false);
});

test('output of exactly the cap is not truncated', () => {
  const cap = new OutputCap(10);
  cap.admit(bytes(6));
  const admitted = cap.admit(bytes(4));
  assert.equal(admitted.keep.length, 4);
  assert.equal(admitted.crossed, false);
  assert.equal(cap.truncated, false);
});

test('the chunk that crosses the cap is cut at the cap and flagged once', () => {
  const cap = new OutputCap(10);
  cap.admit(bytes(6));
  const crossing = cap.admit(Buffer.from('0123456789'));
  assert.equal(crossing.keep.toString(), '0123');
  assert.equal(crossing.crossed, true);
  const after = cap.admit(bytes(5));
  assert.equal(after.keep.length, 0);
  assert.equal(after.crossed, false);
  assert.equal(cap.truncated, true);
});

test('the first byte past a cap reached exactly crosses it', () => {
  const cap = new OutputCap(4);
  cap.admit(bytes(4));
  const admitted = cap.admit(bytes(1));
  assert.equal(admitted.keep.length, 0);
  assert.equal(admitted.crossed, true);
});

test('every byte is counted, delivered or dropped', () => {
  const cap = new OutputCap(3);
  for (let i = 0; i < 5; i += 1) cap.admit(bytes(1000));
  assert.equal(cap.seenBytes, 5000);
});

test('a zero cap delivers nothing and marks the first chunk', () => {
  const cap = new OutputCap(0);
  assert.deepEqual(cap.admit(bytes(0)), { keep: bytes(0), crossed: false });
  const admitted = cap.admit(bytes(2));
  assert.equal(admitted.keep.length, 0);
  assert.equal(admitted.crossed, true);
});

test('admitted bytes are the original bytes, binary included', () => {
  const cap = new OutputCap(200);
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(cap.admit(all).keep, all.subarray(0, 200));
});

test('the note names the cap in the unit max-output is written in', () => {
  assert.equal(new OutputCap(1024 * 1024).note, 'output truncated at 1 MiB');
});

test('formatBytes picks the largest binary unit and keeps one decimal', () => {
  assert.equal(formatBytes(0), '0 bytes');
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(1023), '1023 bytes');
  assert.equal(formatBytes(1024), '1 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(10 * 1024 * 1024), '10 MiB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3 GiB');
  assert.equal(formatBytes(2048 * 1024 ** 4), '2048 TiB');
});
