/**
 * Zone offsets and transitions found through Intl, and the tick format.
 * Transition instants are tzdata's (e.g. EU: 01:00 UTC on the last Sunday of
 * March and October; Lord Howe: a 30-minute change at 02:00 local).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTimeZone, intervalAt, isValidTimeZone, offsetAt } from '../../src/daemon/schedule/zone.js';
import { formatTick } from '../../src/daemon/schedule/format.js';

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);

test('offsets in standard and summer time, including 30- and 45-minute zones', () => {
  assert.equal(offsetAt('Europe/Berlin', at('2026-01-15T12:00:00Z')), 1 * HOUR);
  assert.equal(offsetAt('Europe/Berlin', at('2026-07-15T12:00:00Z')), 2 * HOUR);
  assert.equal(offsetAt('America/New_York', at('2026-01-15T12:00:00Z')), -5 * HOUR);
  assert.equal(offsetAt('Australia/Sydney', at('2026-01-15T12:00:00Z')), 11 * HOUR);
  assert.equal(offsetAt('Australia/Lord_Howe', at('2026-07-15T12:00:00Z')), 10.5 * HOUR);
  assert.equal(offsetAt('Asia/Kathmandu', at('2026-07-15T12:00:00Z')), 5.75 * HOUR);
  assert.equal(offsetAt('UTC', at('2026-07-15T12:00:00Z')), 0);
});

test('a spring-forward transition is found to the second', () => {
  const jump = at('2026-03-29T01:00:00Z');
  const after = intervalAt('Europe/Berlin', jump);
  assert.equal(after.start, jump);
  assert.equal(after.offsetMs, 2 * HOUR);
  assert.equal(after.previousOffsetMs, 1 * HOUR);
  const before = intervalAt('Europe/Berlin', jump - 1000);
  assert.equal(before.end, jump);
  assert.equal(before.offsetMs, 1 * HOUR);
  assert.equal(intervalAt('Europe/Berlin', at('2026-10-25T01:00:00Z')).start, at('2026-10-25T01:00:00Z'));
});

test('Lord Howe moves by 30 minutes; the southern summer spans the new year', () => {
  const spring = intervalAt('Australia/Lord_Howe', at('2025-10-04T15:30:00Z'));
  assert.deepEqual([spring.start, spring.offsetMs, spring.previousOffsetMs], [at('2025-10-04T15:30:00Z'), 11 * HOUR, 10.5 * HOUR]);
  const fall = intervalAt('Australia/Lord_Howe', at('2026-04-04T15:00:00Z'));
  assert.deepEqual([fall.start, fall.offsetMs, fall.previousOffsetMs], [at('2026-04-04T15:00:00Z'), 10.5 * HOUR, 11 * HOUR]);
});

test('intervals also end at a UTC year boundary, without claiming an offset change', () => {
  const newYear = at('2026-01-01T00:00:00Z');
  const last = intervalAt('Australia/Sydney', newYear - 1000);
  const first = intervalAt('Australia/Sydney', newYear);
  assert.equal(last.end, newYear);
  assert.equal(first.start, newYear);
  assert.equal(first.previousOffsetMs, first.offsetMs);
});

test('unknown zones are rejected', () => {
  assert.equal(isValidTimeZone('Europe/Berlin'), true);
  assert.equal(isValidTimeZone('Mars/Olympus_Mons'), false);
  assert.throws(() => assertTimeZone('Mars/Olympus_Mons'), RangeError);
});

test('formatTick: ISO 8601 with the offset in force, seconds always shown', () => {
  assert.equal(formatTick(at('2026-03-29T01:00:00Z'), 'Europe/Berlin'), '2026-03-29T03:00:00+02:00');
  assert.equal(formatTick(at('2026-03-29T00:59:59Z'), 'Europe/Berlin'), '2026-03-29T01:59:59+01:00');
  assert.equal(formatTick(at('2026-07-01T12:00:00Z'), 'UTC'), '2026-07-01T12:00:00+00:00');
  assert.equal(formatTick(at('2026-07-01T12:00:00Z'), 'America/St_Johns'), '2026-07-01T09:30:00-02:30');
  assert.equal(formatTick(at('2026-01-01T00:00:00Z'), 'Asia/Kathmandu'), '2026-01-01T05:45:00+05:45');
  // The two 01:30s of New York's fall-back night differ only by offset.
  assert.equal(formatTick(at('2025-11-02T05:30:00Z'), 'America/New_York'), '2025-11-02T01:30:00-04:00');
  assert.equal(formatTick(at('2025-11-02T06:30:00Z'), 'America/New_York'), '2025-11-02T01:30:00-05:00');
});

test('formatTick writes local mean time offsets with their seconds', () => {
  // Paris kept mean solar time (+00:09:21) until 1911.
  assert.equal(formatTick(at('1890-01-01T00:00:00Z'), 'Europe/Paris'), '1890-01-01T00:09:21+00:09:21');
});
