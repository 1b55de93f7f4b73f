import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedCoordinator } from '../../src/daemon/coordination/embedded.js';
import { openDatabase, type Db } from '../../src/daemon/runlog/database.js';
import { waitFor } from '../helpers/wait.js';

/** A database file in a fresh temp dir; every connection opened through it is closed and the dir removed after the test. */
function tempDb(t: TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dcron-coordinator-'));
  const file = path.join(dir, 'dcron.db');
  const opened: Db[] = [];
  t.after(() => {
    for (const db of opened) if (db.open) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    open(): Db {
      const db = openDatabase(file);
      opened.push(db);
      return db;
    },
  };
}

const T = 1_700_000_000_000;

test('a tick is claimed once; the same or an earlier tick never again', async (t) => {
  const coordinator = new EmbeddedCoordinator(tempDb(t).open());
  assert.equal(await coordinator.cursor('job'), null);

  assert.deepEqual(await coordinator.claimTick('job', T), { fence: 1 });
  assert.equal(await coordinator.cursor('job'), T);
  assert.equal(await coordinator.claimTick('job', T), null);
  assert.equal(await coordinator.claimTick('job', T - 60_000), null);
  assert.equal(await coordinator.cursor('job'), T, 'a refused claim leaves the cursor');

  assert.deepEqual(await coordinator.claimTick('job', T + 60_000), { fence: 2 });
  assert.equal(await coordinator.cursor('job'), T + 60_000);
});

test('jobs have independent cursors and fences', async (t) => {
  const coordinator = new EmbeddedCoordinator(tempDb(t).open());
  assert.deepEqual(await coordinator.claimTick('a', T), { fence: 1 });
  assert.deepEqual(await coordinator.claimTick('b', T), { fence: 1 });
  assert.deepEqual(await coordinator.claimTick('a', T + 1), { fence: 2 });
  assert.equal(await coordinator.cursor('b'), T);
});

test('fences strictly increase across claims and nextFence', async (t) => {
  const coordinator = new EmbeddedCoordinator(tempDb(t).open());
  assert.equal(await coordinator.nextFence('job'), 1, 'a job never claimed still gets a fence');
  assert.equal(await coordinator.cursor('job'), null, 'nextFence does not claim a tick');

  const fences: number[] = [];
  for (let i = 0; i < 50; i++) {
    if (i % 3 === 0) fences.push(await coordinator.nextFence('job'));
    else fences.push((await coordinator.claimTick('job', T + i))!.fence);
  }
  fences.forEach((fence, i) => assert.equal(fence, i + 2));
});

test('advanceCursor moves forward only and hands out no fence', async (t) => {
  const coordinator = new EmbeddedCoordinator(tempDb(t).open());
  await coordinator.advanceCursor('job', T);
  assert.equal(await coordinator.cursor('job'), T);
  assert.equal(await coordinator.claimTick('job', T), null, 'a passed-over tick cannot be claimed');

  await coordinator.advanceCursor('job', T - 1);
  assert.equal(await coordinator.cursor('job'), T);

  assert.deepEqual(await coordinator.claimTick('job', T + 1), { fence: 1 });
  await coordinator.advanceCursor('job', T + 1);
  assert.equal(await coordinator.cursor('job'), T + 1);
  await coordinator.advanceCursor('job', T + 5);
  assert.equal(await coordinator.cursor('job'), T + 5);
  assert.equal(await coordinator.claimTick('job', T + 3), null);
});

test('cursors and fences survive a restart', async (t) => {
  const temp = tempDb(t);
  const first = temp.open();
  const before = new EmbeddedCoordinator(first);
  await before.claimTick('job', T);
  await before.nextFence('job');
  await before.close();
  assert.ok(first.open, 'close leaves the shared database to its owner');
  first.close();

  const after = new EmbeddedCoordinator(temp.open());
  assert.equal(await after.cursor('job'), T);
  assert.equal(await after.claimTick('job', T), null);
  assert.equal(await after.claimTick('job', T - 1), null);
  assert.deepEqual(await after.claimTick('job', T + 1), { fence: 3 });
  assert.equal(await after.nextFence('job'), 4);
});

test('two connections racing for the same ticks claim each exactly once', async (t) => {
  const temp = tempDb(t);
  const coordinators = [new EmbeddedCoordinator(temp.open()), new EmbeddedCoordinator(temp.open())];
  const fences: number[] = [];
  for (let tick = 0; tick < 200; tick++) {
    // Interleave which connection asks first, and let both ask.
    const order = tick % 2 === 0 ? coordinators : [...coordinators].reverse();
    const claims = await Promise.all(order.map((c) => c.claimTick('job', T + tick)));
    const won = claims.filter((claim) => claim !== null);
    assert.equal(won.length, 1, `tick ${tick} claimed ${won.length} times`);
    fences.push(won[0]!.fence);
  }
  fences.forEach((fence, i) => assert.equal(fence, i + 1));
});

test('batch(): cursors read from one snapshot; new jobs\' starts written after it in the background, never moving a cursor back', async (t) => {
  const files = tempDb(t);
  const coordinator = new EmbeddedCoordinator(files.open());
  assert.ok(await coordinator.claimTick('known', T));
  await coordinator.batch(async () => {
    assert.equal(await coordinator.cursor('known'), T);
    assert.equal(await coordinator.cursor('new'), null);
    for (let i = 0; i < 25_000; i++) assert.equal(await coordinator.startCursor(`job-${i}`, T + 5), T + 5);
    // A job scheduled early in the batch may be claimed before it ends: its start must not undo the claim.
    assert.equal(await coordinator.startCursor('claimed', T + 5), T + 5);
    assert.ok(await coordinator.claimTick('claimed', T + 60_000));
  });
  const reader = new EmbeddedCoordinator(files.open());
  await waitFor('the starts to be written in the background', async () => (await reader.cursor('job-24999')) === T + 5);
  // What is still pending at close is written then.
  await coordinator.batch(async () => void (await coordinator.startCursor('late', T + 7)));
  await coordinator.close();
  const reopened = new EmbeddedCoordinator(files.open());
  assert.equal(await reopened.cursor('late'), T + 7);
  assert.equal(await reopened.cursor('job-0'), T + 5);
  assert.equal(await reopened.cursor('job-24999'), T + 5, 'every chunk written');
  assert.equal(await reopened.cursor('claimed'), T + 60_000);
  assert.equal(await reopened.cursor('known'), T);
});
