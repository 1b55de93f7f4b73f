import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/daemon/duration.js';
import { parseSize } from '../../src/daemon/crontab/size.js';

test('parseDuration reads each unit', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('2d'), 172_800_000);
});

test('parseDuration combines units largest first', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1d2h3m4s5ms'), 93_784_005);
  assert.equal(parseDuration('1m500ms'), 60_500);
});

test('a plain number is seconds', () => {
  assert.equal(parseDuration('45'), 45_000);
  assert.equal(parseDuration('0'), 0);
});

test('parseDuration rejects what it would have to guess at', () => {
  for (const text of ['', 'ms', '1.5h', '30m1h', '1h1h', '5 m', '-5s', '5M', '5x', 'h', '1w']) {
    assert.equal(parseDuration(text), null, text);
  }
  assert.equal(parseDuration(`${'9'.repeat(20)}d`), null);
});

test('formatDuration is the shortest form parseDuration reads back', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(500), '500ms');
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(172_800_000), '2d');
  assert.equal(formatDuration(-1500), '-1s500ms');
  for (const ms of [1, 999, 1000, 61_001, 86_399_999, 93_784_005]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});

test('parseSize reads bytes, decimal and binary units in any case', () => {
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('10B'), 10);
  assert.equal(parseSize('512KiB'), 524_288);
  assert.equal(parseSize('1MiB'), 1_048_576);
  assert.equal(parseSize('2gib'), 2_147_483_648);
  assert.equal(parseSize('10MB'), 10_000_000);
  assert.equal(parseSize('1kb'), 1000);
  assert.equal(parseSize('1 GB'), 1_000_000_000);
  for (const text of ['', 'MiB', '1.5MiB', '1XB', '-1', '1 2']) assert.equal(parseSize(text), null, text);
});
