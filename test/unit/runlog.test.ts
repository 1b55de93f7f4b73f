import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  applyMigrations,
  DatabaseOpenError,
  MigrationError,
  openDatabase,
  SchemaTooNewError,
  type Db,
} from '../../src/daemon/runlog/database.js';
import { MIGRATIONS } from '../../src/daemon/runlog/migrations.js';
import { newRunId } from '../../src/daemon/runlog/run-id.js';
import { AmbiguousRunIdError, RunLog, RunNotFoundError, type RunStart } from '../../src/daemon/runlog/run-log.js';

/** A database file in a fresh temp dir; every connection opened through it is closed and the dir removed after the test. */
function tempDb(t: TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dcron-runlog-'));
  const file = path.join(dir, 'data', 'dcron.db');
  const opened: Db[] = [];
  t.after(() => {
    for (const db of opened) if (db.open) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    file,
    open(): Db {
      const db = openDatabase(file);
      opened.push(db);
      return db;
    },
  };
}

function openLog(t: TestContext): RunLog {
  return new RunLog(tempDb(t).open());
}

let nextId = 0;
function run(overrides: Partial<RunStart> = {}): RunStart {
  nextId++;
  return {
    id: `RUN${String(nextId).padStart(6, '0')}`,
    job: 'backup',
    tickMs: 1_700_000_000_000,
    trigger: 'schedule',
    attempt: 1,
    fence: nextId,
    host: 'host-a',
    startedMs: 1_700_000_000_000 + nextId,
    ...overrides,
  };
}

const ok = { status: 'ok', endedMs: 1_800_000_000_000, exitCode: 0, signal: null } as const;

function tableNames(db: Db): string[] {
  return db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
}

test('a new file gets every migration, WAL, and a private data dir', (t) => {
  const temp = tempDb(t);
  const db = temp.open();
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.deepEqual(tableNames(db), ['backfill_claim', 'job_cursor', 'job_done', 'job_pause', 'output', 'runs', 'tick_ledger']);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(fs.statSync(path.dirname(temp.file)).mode & 0o777, 0o700);
});

test('reopening a migrated file changes nothing and keeps the data', (t) => {
  const temp = tempDb(t);
  const first = temp.open();
  const started = run();
  new RunLog(first).startRun(started);
  first.close();

  const again = temp.open();
  assert.equal(again.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.equal(new RunLog(again).getRun(started.id)?.job, 'backup');
});

test('a file from a newer dcron is refused and left as it was', (t) => {
  const temp = tempDb(t);
  temp.open().close();
  const raw = new Database(temp.file);
  raw.pragma('user_version = 99');
  raw.close();

  assert.throws(
    () => temp.open(),
    (err: unknown) => err instanceof SchemaTooNewError && err.found === 99 && err.known === MIGRATIONS.length,
  );
  const check = new Database(temp.file);
  assert.equal(check.pragma('user_version', { simple: true }), 99);
  check.close();
});

test('a failing migration rolls back alone; the ones before it stay applied', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dcron-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = new Database(path.join(dir, 'x.db'));
  t.after(() => db.close());
  const migrations = [
    { name: 'first', sql: 'CREATE TABLE first (x INTEGER)' },
    { name: 'broken', sql: 'CREATE TABLE half (x INTEGER); INSERT INTO missing VALUES (1);' },
  ];

  assert.throws(
    () => applyMigrations(db, migrations),
    (err: unknown) => err instanceof MigrationError && err.version === 2,
  );
  assert.equal(db.pragma('user_version', { simple: true }), 1);
  assert.deepEqual(tableNames(db), ['first']);

  migrations[1] = { name: 'fixed', sql: 'CREATE TABLE half (x INTEGER)' };
  applyMigrations(db, migrations);
  assert.equal(db.pragma('user_version', { simple: true }), 2);
  assert.deepEqual(tableNames(db), ['first', 'half']);
});

test('a file that is not a database gives DatabaseOpenError', (t) => {
  const temp = tempDb(t);
  fs.mkdirSync(path.dirname(temp.file), { recursive: true });
  fs.writeFileSync(temp.file, 'this is not sqlite, just text long enough to fill a header '.repeat(10));
  assert.throws(() => temp.open(), DatabaseOpenError);
});

test('a run is started, streams output in order, and finishes', (t) => {
  const log = openLog(t);
  const started = run({ pid: 4242 });
  log.startRun(started);

  assert.equal(log.appendOutput(started.id, 'stdout', Buffer.from('hello\n'), 10), 1);
  assert.equal(log.appendOutput(started.id, 'stderr', Buffer.from('oops\n'), 11), 2);
  assert.equal(log.appendOutput(started.id, 'stdout', Buffer.from([0, 255]), 12), 3);

  const running = log.getRun(started.id);
  assert.equal(running?.status, 'running');
  assert.equal(running?.pid, 4242);
  assert.equal(running?.outputBytes, 13);
  assert.equal(running?.endedMs, null);

  assert.equal(log.finishRun(started.id, { ...ok, status: 'failed', exitCode: 3, message: 'exit 3' }), true);
  assert.deepEqual(log.getRun(started.id), {
    ...started,
    status: 'failed',
    endedMs: ok.endedMs,
    exitCode: 3,
    signal: null,
    pid: 4242,
    outputBytes: 13,
    truncated: false,
    message: 'exit 3',
    shard: null,
    shards: null,
  });

  const chunks = log.readOutput(started.id);
  assert.deepEqual(
    chunks.map((c) => [c.runId, c.seq, c.stream, c.tsMs, c.data.toString('hex')]),
    [
      [started.id, 1, 'stdout', 10, Buffer.from('hello\n').toString('hex')],
      [started.id, 2, 'stderr', 11, Buffer.from('oops\n').toString('hex')],
      [started.id, 3, 'stdout', 12, '00ff'],
    ],
  );
  assert.ok(Buffer.isBuffer(chunks[0].data));
  assert.deepEqual(log.readOutput(started.id, 1).map((c) => c.seq), [2, 3]);
  assert.deepEqual(log.readOutput(started.id, 0, 2).map((c) => c.seq), [1, 2]);
});

test('seq counts per run', (t) => {
  const log = openLog(t);
  const a = run();
  const b = run();
  log.startRun(a);
  log.startRun(b);
  assert.equal(log.appendOutput(a.id, 'stdout', Buffer.from('a'), 1), 1);
  assert.equal(log.appendOutput(b.id, 'stdout', Buffer.from('b'), 1), 1);
  assert.equal(log.appendOutput(a.id, 'stdout', Buffer.from('a'), 2), 2);
});

test('setPid records the pid after spawn', (t) => {
  const log = openLog(t);
  const started = run();
  log.startRun(started);
  assert.equal(log.getRun(started.id)?.pid, null);
  log.setPid(started.id, 777);
  assert.equal(log.getRun(started.id)?.pid, 777);
});

test('the first outcome of a run wins; later finishes change nothing', (t) => {
  const log = openLog(t);
  const started = run();
  log.startRun(started);
  assert.equal(log.finishRun(started.id, { ...ok, message: 'first' }), true);
  const first = log.getRun(started.id);

  assert.equal(log.finishRun(started.id, { status: 'killed', endedMs: 2, exitCode: null, signal: 'SIGKILL' }), false);
  assert.deepEqual(log.getRun(started.id), first);
});

test('a truncated run stays truncated', (t) => {
  const log = openLog(t);
  const started = run();
  log.startRun(started);
  log.finishRun(started.id, { ...ok, truncated: true });
  assert.equal(log.getRun(started.id)?.truncated, true);
});

test('writes to an unknown run throw RunNotFoundError', (t) => {
  const log = openLog(t);
  assert.throws(() => log.appendOutput('NOPE', 'stdout', Buffer.from('x'), 1), RunNotFoundError);
  assert.throws(() => log.finishRun('NOPE', ok), RunNotFoundError);
  assert.throws(() => log.setPid('NOPE', 1), RunNotFoundError);
});

test('a tick that never started is recorded as starting and ending at once', (t) => {
  const log = openLog(t);
  const { startedMs: _unused, ...rest } = run();
  log.recordUnstarted({ ...rest, status: 'missed', atMs: 5_000, message: 'daemon was down' });
  const record = log.getRun(rest.id);
  assert.equal(record?.status, 'missed');
  assert.equal(record?.startedMs, 5_000);
  assert.equal(record?.endedMs, 5_000);
  assert.equal(record?.message, 'daemon was down');
  assert.deepEqual(log.runningRuns(), []);
});

test('getRun takes a unique prefix of 4+ characters, in either case', (t) => {
  const log = openLog(t);
  for (const id of ['ABCD1111', 'ABCD2222', 'ABCE3333', 'X1']) log.startRun(run({ id }));

  assert.equal(log.getRun('ABCD1111')?.id, 'ABCD1111');
  assert.equal(log.getRun('ABCD1')?.id, 'ABCD1111');
  assert.equal(log.getRun('abce')?.id, 'ABCE3333');
  assert.equal(log.getRun('X1')?.id, 'X1', 'a full id shorter than a prefix still matches');
  assert.equal(log.getRun('ABC'), undefined, 'too short to be a prefix');
  assert.equal(log.getRun('ZZZZ'), undefined);
  assert.throws(
    () => log.getRun('ABCD'),
    (err: unknown) => err instanceof AmbiguousRunIdError && err.matches.join() === 'ABCD1111,ABCD2222',
  );
});

test('history is newest first, filters by job, and pages with beforeId', (t) => {
  const log = openLog(t);
  const runs = [
    run({ id: 'A1', job: 'a', startedMs: 100 }),
    run({ id: 'B1', job: 'b', startedMs: 200 }),
    run({ id: 'A2', job: 'a', startedMs: 300 }),
    run({ id: 'A3', job: 'a', startedMs: 300 }),
    run({ id: 'B2', job: 'b', startedMs: 400 }),
  ];
  for (const r of runs) log.startRun(r);
  const ids = (records: { id: string }[]) => records.map((r) => r.id);

  assert.deepEqual(ids(log.history()), ['B2', 'A3', 'A2', 'B1', 'A1']);
  assert.deepEqual(ids(log.history({ job: 'a' })), ['A3', 'A2', 'A1']);
  assert.deepEqual(ids(log.history({ limit: 2 })), ['B2', 'A3']);
  assert.deepEqual(ids(log.history({ limit: 2, beforeId: 'A3' })), ['A2', 'B1']);
  assert.deepEqual(ids(log.history({ job: 'a', beforeId: 'A2' })), ['A1']);
  assert.deepEqual(ids(log.history({ job: 'c' })), []);
  assert.throws(() => log.history({ beforeId: 'GONE' }), RunNotFoundError);
});

test('lastRun and lastRunsByJob give the newest run of each job', (t) => {
  const log = openLog(t);
  for (const r of [
    run({ id: 'A1', job: 'a', startedMs: 100 }),
    run({ id: 'A2', job: 'a', startedMs: 300 }),
    run({ id: 'B1', job: 'b', startedMs: 200 }),
    run({ id: 'C1', job: 'c', startedMs: 50 }),
    run({ id: 'C2', job: 'c', startedMs: 50 }),
  ]) {
    log.startRun(r);
  }

  assert.equal(log.lastRun('a')?.id, 'A2');
  assert.equal(log.lastRun('none'), undefined);
  const latest = log.lastRunsByJob();
  assert.deepEqual(
    [...latest].map(([job, r]) => [job, r.id]).sort(),
    [
      ['a', 'A2'],
      ['b', 'B1'],
      ['c', 'C2'],
    ],
  );
  assert.equal(new RunLog(tempDb(t).open()).lastRunsByJob().size, 0);
});

test('runningRuns lists only runs still in progress, oldest first', (t) => {
  const log = openLog(t);
  const later = run({ startedMs: 20 });
  const earlier = run({ startedMs: 10 });
  const done = run({ startedMs: 5 });
  for (const r of [later, earlier, done]) log.startRun(r);
  log.finishRun(done.id, ok);
  assert.deepEqual(
    log.runningRuns().map((r) => r.id),
    [earlier.id, later.id],
  );
});

test('runs a stopped daemon left running are marked lost on restart, for this host only', (t) => {
  const temp = tempDb(t);
  const before = temp.open();
  const oldLog = new RunLog(before);
  const interrupted = run({ host: 'host-a' });
  const otherHost = run({ host: 'host-b' });
  const finished = run({ host: 'host-a' });
  for (const r of [interrupted, otherHost, finished]) oldLog.startRun(r);
  oldLog.appendOutput(interrupted.id, 'stdout', Buffer.from('partial'), 1);
  oldLog.finishRun(finished.id, ok);
  before.close();

  const log = new RunLog(temp.open());
  const lost = log.markInterruptedAsLost('host-a', 9_000);
  assert.deepEqual(
    lost.map((r) => [r.id, r.status, r.endedMs]),
    [[interrupted.id, 'lost', 9_000]],
  );
  assert.match(lost[0].message ?? '', /daemon stopped/);
  assert.equal(lost[0].outputBytes, 7);
  assert.deepEqual(log.getRun(interrupted.id), lost[0]);
  assert.equal(log.getRun(otherHost.id)?.status, 'running');
  assert.equal(log.getRun(finished.id)?.status, 'ok');
  assert.equal(log.finishRun(interrupted.id, ok), false, 'a late exit does not overwrite lost');
  assert.deepEqual(log.markInterruptedAsLost('host-a', 10_000), []);
});

function addFinishedRun(log: RunLog, overrides: Partial<RunStart>, bytes: number): string {
  const r = run(overrides);
  log.startRun(r);
  if (bytes > 0) log.appendOutput(r.id, 'stdout', Buffer.alloc(bytes, 'x'), r.startedMs);
  log.finishRun(r.id, ok);
  return r.id;
}

test('retention keeps the newest N finished runs per job and never a running one', (t) => {
  const log = openLog(t);
  const oldRunning = run({ job: 'a', startedMs: 1 });
  log.startRun(oldRunning);
  const a = [10, 20, 30, 40, 50].map((startedMs) => addFinishedRun(log, { job: 'a', startedMs }, 100));
  const b = addFinishedRun(log, { job: 'b', startedMs: 5 }, 100);

  const result = log.applyRetention({ keepRunsPerJob: 2, maxOutputBytes: 1_000_000 });

  assert.deepEqual(result, { deletedRuns: 3, deletedBytes: 300 });
  assert.deepEqual(
    log.history({ job: 'a' }).map((r) => r.id),
    [a[4], a[3], oldRunning.id],
  );
  assert.equal(log.getRun(b)?.job, 'b');
  assert.deepEqual(log.readOutput(a[0]), [], 'output goes with its run');
  assert.equal(log.totalOutputBytes(), 300);
  assert.deepEqual(log.applyRetention({ keepRunsPerJob: 2, maxOutputBytes: 1_000_000 }), {
    deletedRuns: 0,
    deletedBytes: 0,
  });
});

test('retention deletes the oldest whole runs until the output fits the byte cap', (t) => {
  const log = openLog(t);
  const running = run({ job: 'a', startedMs: 1 });
  log.startRun(running);
  log.appendOutput(running.id, 'stdout', Buffer.alloc(50), 1);
  const ids = Array.from({ length: 10 }, (_, i) =>
    addFinishedRun(log, { job: i % 2 === 0 ? 'a' : 'b', startedMs: 10 * (i + 1) }, i === 0 ? 0 : 100),
  );
  assert.equal(log.totalOutputBytes(), 950);

  const result = log.applyRetention({ keepRunsPerJob: 100, maxOutputBytes: 400 });

  // 950 - 400 = 550 to free: the empty first run plus six of 100 bytes.
  assert.deepEqual(result, { deletedRuns: 7, deletedBytes: 600 });
  assert.equal(log.totalOutputBytes(), 350);
  assert.deepEqual(
    log.history({ limit: 100 }).map((r) => r.id),
    [...ids.slice(7).reverse(), running.id],
  );
});

test('retention cannot go below what running runs hold', (t) => {
  const log = openLog(t);
  const running = run();
  log.startRun(running);
  log.appendOutput(running.id, 'stdout', Buffer.alloc(500), 1);
  addFinishedRun(log, {}, 100);
  assert.deepEqual(log.applyRetention({ keepRunsPerJob: 10, maxOutputBytes: 100 }), {
    deletedRuns: 1,
    deletedBytes: 100,
  });
  assert.equal(log.getRun(running.id)?.outputBytes, 500);
});

test('run ids are 26 Crockford base32 characters, time-sortable and unique', () => {
  // The ULID spec's example time.
  assert.equal(newRunId(1469918176385).slice(0, 10), '01ARYZ6S41');
  const ids = Array.from({ length: 10_000 }, (_, i) => newRunId(1_700_000_000_000 + Math.floor(i / 10)));
  for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(newRunId(1_700_000_000_001) > newRunId(1_700_000_000_000));
  assert.ok(newRunId(2 ** 40) > newRunId(2 ** 39));
  assert.throws(() => newRunId(-1), RangeError);
  assert.throws(() => newRunId(1.5), RangeError);
});
