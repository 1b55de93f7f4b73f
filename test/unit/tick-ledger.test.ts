import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedTickLedger } from '../../src/daemon/coordination/embedded-ledger.js';
import { openDatabase } from '../../src/daemon/runlog/database.js';
import { applyReport, decodeTickState, mayClose, type ShardReport } from '../../src/daemon/ticks/tick-ledger.js';

const dir = mkdtempSync(join(tmpdir(), 'dcron-ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const report = (shard: number, ok: boolean, tickMs = 1000, shards = 3): ShardReport => ({ job: 'j', tickMs, shards, shard, ok, atMs: tickMs + 500 + shard });

test('a tick fails once, at its first failed shard, and ends once, at its last shard; a repeated report changes nothing', () => {
  let state = null;
  let done;
  const seen = [];
  for (const r of [report(0, true), report(1, false), report(1, false), report(2, false)]) {
    const next = applyReport(state, done, r);
    seen.push([next.settlement.failedNow, next.settlement.endedNow, next.settlement.repeated]);
    state = next.tick;
    done = next.done;
  }
  assert.deepEqual(seen, [[false, false, false], [true, false, false], [false, false, true], [false, true, false]]);
  assert.deepEqual(state, { shards: 3, ok: [0], failed: [1, 2], skipped: [] });
  assert.deepEqual(done, { ok: null, failed: { tickMs: 1000, atMs: 1501 } }, 'a failed tick never counts as ended ok');
});

test('a shard that did not run ends the tick incomplete: neither ok nor failed, so no child of either kind follows and nothing pages', () => {
  let state = null;
  let done;
  const seen = [];
  for (const r of [report(0, true), { ...report(1, false), skipped: true }, { ...report(1, false), skipped: true }, report(2, true)]) {
    const next = applyReport(state, done, r);
    seen.push([next.settlement.failedNow, next.settlement.endedNow, next.settlement.repeated]);
    state = next.tick;
    done = next.done;
  }
  assert.deepEqual(seen, [[false, false, false], [false, false, false], [false, false, true], [false, true, false]]);
  assert.deepEqual(state, { shards: 3, ok: [0, 2], failed: [], skipped: [1] });
  assert.deepEqual(done, { ok: null, failed: null });
  assert.deepEqual(decodeTickState('{"shards":2,"ok":[0],"failed":[]}'), { shards: 2, ok: [0], failed: [], skipped: [] }, 'a state stored before skipped shards were counted');
});

test('the done state only moves forward: a tick that ends after a later one does not move the job back', () => {
  const later = applyReport(null, undefined, report(0, true, 2000, 1));
  const earlier = applyReport(null, later.done, report(0, true, 1000, 1));
  assert.equal(earlier.settlement.endedNow, true);
  assert.deepEqual(earlier.done.ok, { tickMs: 2000, atMs: 2500 });
});

test('the embedded ledger counts each shard once across a restart, and announces the job done when its tick ends ok', async () => {
  const path = join(dir, 'ledger.db');
  let db = openDatabase(path);
  let ledger = new EmbeddedTickLedger(db);
  await ledger.start();
  const events: unknown[] = [];
  ledger.on('done', (job, done) => events.push([job, done.ok?.tickMs ?? null]));
  assert.equal((await ledger.report(report(0, true))).endedNow, false);
  assert.equal((await ledger.report(report(1, true))).endedNow, false);
  db.close();

  db = openDatabase(path);
  ledger = new EmbeddedTickLedger(db);
  await ledger.start();
  ledger.on('done', (job, done) => events.push([job, done.ok?.tickMs ?? null]));
  assert.equal((await ledger.report(report(1, true))).repeated, true, 'shard 1 was counted before the restart');
  const last = await ledger.report(report(2, true));
  assert.deepEqual([last.endedNow, last.failedNow], [true, false]);
  assert.deepEqual(events, [['j', 1000]]);
  assert.deepEqual(ledger.doneOf('j'), { ok: { tickMs: 1000, atMs: 1502 }, failed: null });
  assert.equal(db.prepare('SELECT count(*) FROM tick_ledger').pluck().get(), 0, 'an ended tick leaves no row behind');
  db.close();

  db = openDatabase(path);
  ledger = new EmbeddedTickLedger(db);
  await ledger.start();
  assert.deepEqual(ledger.doneOf('j')?.ok?.tickMs, 1000, 'the done state outlives a restart');
  db.close();
});

test('a mode=all tick closes at once when every eligible host joined, else only when the join grace is over', () => {
  const tick = 60_000;
  assert.deepEqual(mayClose(['a', 'b', 'c'], ['c', 'a', 'b'], tick, 5000, tick + 10), { close: true });
  assert.deepEqual(mayClose(['a', 'b', 'c'], ['a', 'b'], tick, 5000, tick + 10), { close: true }, 'a host the closer does not know of yet does not hold the tick open');
  assert.deepEqual(mayClose(['a', 'b'], ['a', 'b', 'c'], tick, 5000, tick + 10), { close: false, atMs: tick + 5000 });
  assert.deepEqual(mayClose(['a', 'b'], ['a', 'b', 'c'], tick, 5000, tick + 5000), { close: true });
});
