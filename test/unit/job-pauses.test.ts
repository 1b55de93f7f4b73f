import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/daemon/runlog/database.js';
import { EmbeddedPauses } from '../../src/daemon/jobs/embedded-pauses.js';
import { activePause, decodePause, encodePause, pausedAt, pausedJobs, type PauseState } from '../../src/daemon/jobs/job-pauses.js';

const T = Date.UTC(2027, 0, 1);

test('a pause covers ticks before its until, every tick without one; an ended pause is not shown', () => {
  const open: PauseState = { untilMs: null, atMs: T, by: 'h1' };
  const until: PauseState = { untilMs: T + 60_000, atMs: T, by: 'h1' };
  assert.equal(pausedAt(undefined, T), false);
  assert.equal(pausedAt(open, T + 1e9), true);
  assert.equal(pausedAt(until, T + 59_999), true);
  assert.equal(pausedAt(until, T + 60_000), false, 'the tick at until runs');
  assert.equal(activePause(until, T + 60_000), null);
  assert.deepEqual(activePause(until, T), until);
  const all = new Map([['b', open], ['a', until], ['gone', open]]);
  assert.deepEqual(pausedJobs(all, (j) => j !== 'gone', T), ['a', 'b']);
  assert.deepEqual(pausedJobs(all, (j) => j !== 'gone', T + 60_000), ['b']);
});

test('stored pauses decode back; anything else is not a pause, never an exception', () => {
  const state: PauseState = { untilMs: T, atMs: T - 5, by: 'n2' };
  assert.deepEqual(decodePause(encodePause(state)), state);
  assert.deepEqual(decodePause(encodePause({ ...state, untilMs: null })), { ...state, untilMs: null });
  for (const bad of ['', '{', 'null', '{"untilMs":"soon","atMs":1,"by":"x"}', '{"untilMs":null,"by":"x"}', '[]']) assert.equal(decodePause(bad), null, bad);
});

test('single-host pauses live in the SQLite file: they survive a reopen, and resume says whether there was one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dcron-pauses-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'dcron.db');
  const db = openDatabase(file);
  const pauses = new EmbeddedPauses(db);
  await pauses.start();
  const changes: Array<[string, PauseState | null]> = [];
  pauses.on('changed', (job, state) => changes.push([job, state]));
  const state: PauseState = { untilMs: null, atMs: T, by: 'h1' };
  await pauses.pause('backup', state);
  await pauses.pause('report', { ...state, untilMs: T + 1000 });
  assert.equal(await pauses.resume('report'), true);
  assert.equal(await pauses.resume('report'), false);
  assert.deepEqual(changes, [['backup', state], ['report', { ...state, untilMs: T + 1000 }], ['report', null]]);
  db.close();

  const again = openDatabase(file);
  t.after(() => again.close());
  const reopened = new EmbeddedPauses(again);
  await reopened.start();
  assert.deepEqual([...reopened.all()], [['backup', state]]);
});
