import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';
import { withFirstWatchFrom, withSilentWatches } from '../helpers/etcd-watch-faults.js';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { JobDefinition } from '../../src/daemon/crontab/types.js';
import { createLogger, silentLogger, type Logger } from '../../src/daemon/log.js';
import { ClusterKeys } from '../../src/daemon/coordination/etcd/keys.js';
import { publishJobs, MAX_TXN_OPS, MAX_TXN_VALUE_BYTES, type PublishOptions } from '../../src/daemon/coordination/etcd/job-publisher.js';
import { JobFollower, type JobListChange, type SyncReason } from '../../src/daemon/coordination/etcd/job-follower.js';
import { listJobs } from '../../src/daemon/coordination/etcd/job-list.js';
import { decodeJobRecord, JobRecordError, type JobRecord } from '../../src/daemon/coordination/etcd/job-record.js';

let single: EtcdCluster;
let trio: EtcdCluster;

before(async () => {
  [single, trio] = await Promise.all([EtcdCluster.start(1), EtcdCluster.start(3)]);
});

after(async () => {
  await Promise.all([single?.stop(), trio?.stop()]);
});

/* ---- helpers ---- */

function client(t: TestContext, hosts: string[]): Etcd3 {
  const c = new Etcd3({ hosts });
  t.after(() => c.close());
  return c;
}

/** A crontab with one named job per entry: `{ name: command }`, all `*\/5 * * * *` unless given as `schedule|command`. */
function crontab(jobs: Record<string, string>): string {
  return Object.entries(jobs)
    .map(([name, spec]) => {
      const [schedule, command] = spec.includes('|') ? spec.split('|') : ['*/5 * * * *', spec];
      return `#dcron name=${name}\n${schedule} ${command}\n`;
    })
    .join('');
}

function parse(text: string, file = '/etc/dcron/crontab'): JobDefinition[] {
  const result = parseCrontab(text, { file, defaultTz: 'UTC' });
  assert.deepEqual(result.diagnostics, []);
  return result.jobs;
}

function publishing(nodeId: string, jobs: JobDefinition[], extra: Partial<PublishOptions> = {}): PublishOptions {
  return { nodeId, file: `/srv/${nodeId}.cron`, fileHash: `hash-${nodeId}`, jobs, hasErrors: false, log: silentLogger, ...extra };
}

/** The store's current revision, from a read that changes nothing. */
async function storeRevision(c: Etcd3): Promise<number> {
  const res = await c.kv.range({ key: Buffer.from('/revision-probe') });
  return Number(res.header.revision);
}

async function stored(c: Etcd3, keys: ClusterKeys, name: string): Promise<JobRecord | null> {
  const text = await c.get(keys.job(name)).string();
  return text === null ? null : decodeJobRecord(name, text);
}

function capturingLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: createLogger({ pretty: false, write: (line) => lines.push(JSON.parse(line)) }) };
}

interface Followed {
  follower: JobFollower;
  changes: JobListChange[];
  syncs: SyncReason[];
  corrupt: JobRecordError[];
}

interface FollowerOptions {
  relistIntervalMs?: number;
  /** Stands in for the follower's client, to fake a fault. */
  wrap?: (c: Etcd3) => Etcd3;
}

/** A follower on its own client to `hosts`; stopped after the test, before its client closes. */
function follower(t: TestContext, keys: ClusterKeys, hosts: string[], { relistIntervalMs, wrap = (c) => c }: FollowerOptions = {}): Followed {
  let f: JobFollower | undefined;
  t.after(() => f?.stop()); // after-hooks run in the order registered: this one before client()'s close
  f = new JobFollower({ client: wrap(client(t, hosts)), keys, log: silentLogger, relistIntervalMs });
  const followed: Followed = { follower: f, changes: [], syncs: [], corrupt: [] };
  f.on('change', (change) => followed.changes.push(change));
  f.on('synced', ({ reason }) => followed.syncs.push(reason));
  f.on('corrupt', (err) => followed.corrupt.push(err));
  return followed;
}

const commandOf = (f: JobFollower, name: string) => f.jobs().get(name)?.def.command;

/* ---- publishing ---- */

test('first publish writes every job; the same file from a second host writes nothing and moves no revision', async (t) => {
  const keys = new ClusterKeys('same-file');
  const a = client(t, single.hosts);
  const b = client(t, single.hosts);
  const text = crontab({ backup: 'backup.sh', report: '@daily|report.sh', sweep: 'sweep --all' });

  const first = await publishJobs(a, keys, publishing('node-a', parse(text)));
  assert.deepEqual(first.added, ['backup', 'report', 'sweep']);
  assert.deepEqual([first.changed, first.removed, first.unchanged, first.conflicts], [[], [], [], []]);
  assert.equal((await stored(a, keys, 'report'))?.def.scheduleText, '@daily');

  const revision = await storeRevision(b);
  // Same jobs, lines moved down, file at another path on that host.
  const second = await publishJobs(b, keys, publishing('node-b', parse(`\n# moved\n${text}`, '/opt/dcron/crontab')));
  assert.deepEqual(second.unchanged, ['backup', 'report', 'sweep']);
  assert.deepEqual([second.added, second.changed, second.removed, second.conflicts], [[], [], [], []]);
  assert.equal(await storeRevision(b), revision, 'no write: the store revision did not move');
  assert.equal(second.revision, revision);
  assert.equal((await stored(b, keys, 'backup'))?.writer, 'node-a', 'the first writer is still the last writer');
});

test('conflicting edits from two hosts: the later write wins and is reported with who wrote what', async (t) => {
  const keys = new ClusterKeys('conflict');
  const a = client(t, [trio.hosts[0]]);
  const b = client(t, [trio.hosts[1]]);
  const { log, lines } = capturingLog();

  await publishJobs(a, keys, publishing('node-a', parse(crontab({ x: 'echo from-a', y: 'same' }))));
  const fromB = await publishJobs(b, keys, publishing('node-b', parse(crontab({ x: 'echo from-b', y: 'same' })), { log }));
  assert.deepEqual(fromB.changed, ['x']);
  assert.deepEqual(fromB.unchanged, ['y']);
  assert.equal(fromB.conflicts.length, 1);
  assert.deepEqual(
    { ...fromB.conflicts[0], previous: { ...fromB.conflicts[0].previous, writtenMs: 0 } },
    { job: 'x', previous: { writer: 'node-a', file: '/srv/node-a.cron', writtenMs: 0 }, next: { writer: 'node-b', file: '/srv/node-b.cron' }, fields: [{ field: 'command', before: '"echo from-a"', after: '"echo from-b"' }] },
  );
  const logged = lines.find((l) => l.level === 'warn' && l.job === 'x');
  assert.ok(logged, 'the overwrite is logged');
  assert.deepEqual([logged.previousWriter, logged.previousFile, logged.writer, logged.file], ['node-a', '/srv/node-a.cron', 'node-b', '/srv/node-b.cron']);
  assert.equal((await stored(a, keys, 'x'))?.def.command, 'echo from-b');

  // Both hosts publish 300 conflicting jobs at once: each txn compares the revision it read, so whoever
  // commits second sees the first write, overwrites it, and reports it. Every job ends with exactly one
  // winner, and the winner is the host that reported overwriting the other.
  const names = Array.from({ length: 300 }, (_, i) => `race-${i}`);
  const fileOf = (host: string) => crontab(Object.fromEntries(names.map((n) => [n, `echo ${host}`])));
  const [ra, rb] = await Promise.all([
    publishJobs(a, keys, publishing('node-a', parse(fileOf('a')))),
    publishJobs(b, keys, publishing('node-b', parse(fileOf('b')))),
  ]);
  const results = { 'node-a': ra, 'node-b': rb };
  for (const name of names) {
    const record = (await stored(a, keys, name))!;
    const loser = record.writer === 'node-a' ? 'node-b' : 'node-a';
    assert.equal(record.def.command, `echo ${record.writer === 'node-a' ? 'a' : 'b'}`);
    const conflict = results[record.writer as 'node-a' | 'node-b'].conflicts.find((c) => c.job === name);
    assert.equal(conflict?.previous.writer, loser, `${name}: the winner reports overwriting ${loser}`);
    assert.ok(!results[loser].conflicts.some((c) => c.job === name && c.previous.writer === record.writer), `${name}: the loser never overwrote the winner`);
  }
});

test('a job missing from a file is removed only by the host that wrote it last', async (t) => {
  const keys = new ClusterKeys('removal');
  const c = client(t, single.hosts);
  const both = crontab({ keep: 'keep.sh', drop: 'drop.sh' });
  await publishJobs(c, keys, publishing('node-a', parse(both)));
  await publishJobs(c, keys, publishing('node-b', parse(both)));

  const byB = await publishJobs(c, keys, publishing('node-b', parse(crontab({ keep: 'keep.sh' }))));
  assert.deepEqual(byB.removed, []);
  assert.deepEqual(byB.keptBecauseOtherWriter, ['drop']);
  assert.ok(await stored(c, keys, 'drop'), 'node-b never wrote drop: it stays');

  const byA = await publishJobs(c, keys, publishing('node-a', parse(crontab({ keep: 'keep.sh' }))));
  assert.deepEqual(byA.removed, ['drop']);
  assert.equal(await stored(c, keys, 'drop'), null);

  // Once node-b changes `keep`, node-b is its last writer, and node-a's file can no longer remove it.
  await publishJobs(c, keys, publishing('node-b', parse(crontab({ keep: 'keep.sh --v2' }))));
  const byA2 = await publishJobs(c, keys, publishing('node-a', []));
  assert.deepEqual(byA2.keptBecauseOtherWriter, ['keep']);
  assert.ok(await stored(c, keys, 'keep'));
});

test('a file with errors removes nothing, not even jobs this host wrote, but its valid changes are published', async (t) => {
  const keys = new ClusterKeys('errors');
  const c = client(t, single.hosts);
  await publishJobs(c, keys, publishing('node-a', parse(crontab({ a: 'a.sh', b: 'b.sh', c: 'c.sh' }))));

  // `b` has a bad line, so the parser dropped it; `c` was deleted from the file.
  const broken = parseCrontab(crontab({ a: 'a.sh --new' }) + '#dcron name=b\n61 * * * * b.sh\n', { file: '/etc/dcron/crontab', defaultTz: 'UTC' });
  assert.ok(broken.diagnostics.some((d) => d.severity === 'error'));
  const result = await publishJobs(c, keys, publishing('node-a', broken.jobs, { hasErrors: true }));
  assert.deepEqual(result.removed, []);
  assert.deepEqual(result.keptBecauseErrors, ['b', 'c']);
  assert.deepEqual(result.changed, ['a']);
  assert.equal((await stored(c, keys, 'b'))?.def.command, 'b.sh');
  assert.ok(await stored(c, keys, 'c'));
  assert.equal((await stored(c, keys, 'a'))?.def.command, 'a.sh --new');
});

test(`5,000 jobs go out in transactions of at most ${MAX_TXN_OPS} operations, and a follower lists them all`, async (t) => {
  const keys = new ClusterKeys('five-thousand');
  const c = client(t, single.hosts);
  const names = Array.from({ length: 5000 }, (_, i) => `job-${String(i).padStart(4, '0')}`);
  const jobs = parse(crontab(Object.fromEntries(names.map((n) => [n, `task --name ${n}`]))));

  const before = await storeRevision(c);
  const first = await publishJobs(c, keys, publishing('node-a', jobs));
  assert.equal(first.added.length, 5000);
  // Every transaction moves the revision by one: exactly this many means full batches, none too big.
  // A new job is two operations (its record, and a guarded put clearing a removed job's cursor
  // lease), and etcd counts a nested transaction against what the outer one leaves of the limit.
  const perTxn = Math.floor((MAX_TXN_OPS - 1) / 2);
  assert.equal((await storeRevision(c)) - before, Math.ceil(5000 / perTxn));

  const followed = follower(t, keys, single.hosts);
  await followed.follower.start();
  assert.equal(followed.follower.jobs().size, 5000);

  // Change 300, drop 200: 500 writes, 4 transactions; the follower hears exactly those.
  const next = parse(crontab(Object.fromEntries(names.slice(200).map((n, i) => [n, i < 300 ? `task --name ${n} --v2` : `task --name ${n}`]))));
  const second = await publishJobs(c, keys, publishing('node-a', next));
  assert.deepEqual([second.changed.length, second.removed.length, second.unchanged.length], [300, 200, 4500]);
  const heard = (kind: keyof JobListChange) => followed.changes.slice(1).reduce((n, ch) => n + ch[kind].length, 0);
  await waitFor('the follower to hear 500 changes', () => heard('changed') + heard('removed') >= 500);
  assert.deepEqual([heard('changed'), heard('removed'), heard('added')], [300, 200, 0]);
  assert.equal(followed.follower.jobs().size, 4800);
  assert.equal(commandOf(followed.follower, names[499]), `task --name ${names[499]} --v2`);
});

test('large records are batched under the request size limit and listed in smaller pages', async (t) => {
  const keys = new ClusterKeys('large');
  const c = client(t, single.hosts);
  const stdin = 'x'.repeat(200_000);
  const jobs = parse(crontab(Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`big-${i}`, `cat%${stdin}`]))));

  const before = await storeRevision(c);
  const result = await publishJobs(c, keys, publishing('node-a', jobs));
  assert.equal(result.added.length, 24);
  // ~200 KB each: five fit in a 1 MiB transaction, so 24 take five transactions.
  const recordBytes = keys.job('big-0').length + (await c.get(keys.job('big-0')).buffer())!.length;
  const perTxn = Math.floor(MAX_TXN_VALUE_BYTES / recordBytes);
  assert.equal(perTxn, 5);
  assert.equal((await storeRevision(c)) - before, Math.ceil(24 / perTxn));

  // 24 x 200 KB is over gRPC's 4 MiB reply limit for one page: the follower asks again for fewer.
  const followed = follower(t, keys, single.hosts);
  await followed.follower.start();
  assert.equal(followed.follower.jobs().size, 24);
  assert.equal(followed.follower.jobs().get('big-7')?.def.stdin, stdin);
});

/** The client, counting the range requests that bring values back (not keys_only) under `prefix`. */
function countingValueReads(c: Etcd3, prefix: string): { client: Etcd3; valueReads: () => number } {
  let reads = 0;
  const wrapped = Object.create(c) as Etcd3;
  const kv = Object.create(c.kv) as Etcd3['kv'];
  kv.range = (req, options) => {
    if (!req.keys_only && req.key?.toString().startsWith(prefix)) reads++;
    return c.kv.range(req, options);
  };
  Object.defineProperty(wrapped, 'kv', { value: kv });
  return { client: wrapped, valueReads: () => reads };
}

test('a listing seeded with what was just published reads keys only, and gives the records a full listing gives', async (t) => {
  const keys = new ClusterKeys('seeded');
  const c = client(t, single.hosts);
  const names = Array.from({ length: 1500 }, (_, i) => `job-${i}`);
  const published = await publishJobs(c, keys, publishing('node-a', parse(crontab(Object.fromEntries(names.map((n) => [n, `task ${n}`]))))));
  assert.equal(published.known.size, 1500);

  const counted = countingValueReads(c, keys.jobsPrefix());
  const seeded = await listJobs(counted.client, keys, published.known);
  assert.equal(counted.valueReads(), 0, 'no value read back');
  const full = await listJobs(c, keys);
  assert.deepEqual([...seeded.modRevisions].sort(), [...full.modRevisions].sort());
  for (const name of names) assert.deepEqual(seeded.records.get(name), full.records.get(name), name);

  // Another host changes one job: the seed no longer covers the list, so the values are read, and the change is in.
  await publishJobs(c, keys, publishing('node-b', parse(crontab({ 'job-7': 'task changed' }))));
  await c.put(keys.job('job-8')).value(JSON.stringify({ ...full.records.get('job-8')!, def: { ...full.records.get('job-8')!.def, command: 'edited by hand' } }));
  const stale = await listJobs(counted.client, keys, published.known);
  assert.ok(counted.valueReads() > 0);
  assert.equal(stale.records.get('job-7')?.def.command, 'task changed');
  assert.equal(stale.records.get('job-8')?.def.command, 'edited by hand');
  assert.deepEqual(stale.records.get('job-9'), full.records.get('job-9'));
});

test('a host publishing then following does not read its jobs back, and its periodic re-lists read keys only', async (t) => {
  const keys = new ClusterKeys('seeded-follow');
  const c = client(t, single.hosts);
  const published = await publishJobs(c, keys, publishing('node-a', parse(crontab({ a: 'echo a', b: 'echo b', c: 'echo c' }))));
  const counted = countingValueReads(client(t, single.hosts), keys.jobsPrefix());
  const followed = follower(t, keys, single.hosts, { relistIntervalMs: 200, wrap: () => counted.client });
  await followed.follower.start(published.known);
  assert.deepEqual([...followed.follower.jobs().keys()].sort(), ['a', 'b', 'c']);
  await waitFor('two periodic re-lists', () => followed.syncs.filter((s) => s === 'periodic').length >= 2, 5_000);
  assert.equal(counted.valueReads(), 0);

  await publishJobs(c, keys, publishing('node-a', parse(crontab({ a: 'echo a', b: 'echo B', c: 'echo c' }))));
  await waitFor('the change to be reported', () => followed.changes.length === 2);
  assert.equal(commandOf(followed.follower, 'b'), 'echo B');
  assert.deepEqual(followed.changes[1].changed.map((c) => c.after.def.name), ['b'], 'only the change; re-lists that find nothing new say nothing');
});

/* ---- following ---- */

test('a change published on one member reaches a follower on another member within a second', async (t) => {
  const keys = new ClusterKeys('latency');
  const publisher = client(t, [trio.hosts[0]]);
  const followed = follower(t, keys, [trio.hosts[2]]);
  await publishJobs(publisher, keys, publishing('node-a', parse(crontab({ tick: 'echo 0' }))));
  await followed.follower.start();
  assert.equal(commandOf(followed.follower, 'tick'), 'echo 0');

  const latencies: number[] = [];
  for (let i = 1; i <= 10; i++) {
    const startedMs = Date.now();
    await publishJobs(publisher, keys, publishing('node-a', parse(crontab({ tick: `echo ${i}` }))));
    await waitFor(`change ${i} to arrive`, () => commandOf(followed.follower, 'tick') === `echo ${i}`, 5_000, 1);
    latencies.push(Date.now() - startedMs);
  }
  latencies.sort((x, y) => x - y);
  t.diagnostic(`publish-to-follower latency over 10 changes: median ${latencies[5]} ms, max ${latencies[9]} ms`);
  assert.ok(latencies[9] < 1_000, `every change within 1 s (max ${latencies[9]} ms)`);
  assert.ok(followed.changes.slice(1).every((ch) => ch.changed.length === 1 && ch.added.length === 0), 'each publish is heard as one change');
});

test('corrupt and foreign values are reported and skipped: a follower keeps the last good record and keeps running', async (t) => {
  const keys = new ClusterKeys('corrupt');
  const c = client(t, single.hosts);
  await publishJobs(c, keys, publishing('node-a', parse(crontab({ good: 'good.sh', soon: 'soon.sh' }))));
  const followed = follower(t, keys, single.hosts, { relistIntervalMs: 200 });
  await followed.follower.start();

  await c.put(keys.job('soon')).value('{"v":1,"def":');
  await c.put(keys.job('garbage')).value('\u0000\u0001 not json');
  await c.put(keys.job('future')).value(JSON.stringify({ v: 2, def: { name: 'future' }, writer: 'node-z' }));
  // A well-formed record of node-a's under a key no job name can have: node-a must not try to remove it.
  const good = JSON.parse((await c.get(keys.job('good')).string())!);
  await c.put(`${keys.jobsPrefix()}nested/key`).value(JSON.stringify({ ...good, def: { ...good.def, name: 'nested/key' } }));
  await waitFor('four corrupt values to be reported', () => followed.corrupt.length === 4);
  assert.ok(followed.corrupt.every((e) => e instanceof JobRecordError));
  assert.deepEqual(followed.corrupt.map((e) => e.job).sort(), ['future', 'garbage', 'nested/key', 'soon']);
  assert.equal(commandOf(followed.follower, 'soon'), 'soon.sh', 'the last good record is kept');
  assert.deepEqual([...followed.follower.jobs().keys()].sort(), ['good', 'soon']);

  // A publisher reports them too, and replaces the ones its file defines.
  const result = await publishJobs(c, keys, publishing('node-a', parse(crontab({ good: 'good.sh', soon: 'soon.sh --fixed', garbage: 'now-valid.sh' }))));
  assert.deepEqual(result.corrupt.map((e) => e.job), ['future', 'garbage', 'nested/key', 'soon']);
  assert.deepEqual(result.added, ['garbage', 'soon'], 'no usable record was there: they count as added');
  assert.deepEqual(result.keptBecauseOtherWriter, [], 'a value nobody can read is nobody\'s to delete');
  assert.ok(await c.get(keys.job('future')).string(), 'the foreign value is left alone');
  assert.ok(await c.get(`${keys.jobsPrefix()}nested/key`).string(), 'so is the value under a key no job can have');
  await waitFor('the repaired jobs to reach the follower', () => commandOf(followed.follower, 'soon') === 'soon.sh --fixed' && commandOf(followed.follower, 'garbage') === 'now-valid.sh');

  // Periodic re-lists meet the foreign value again and do not report it again.
  const periodic = followed.syncs.length;
  await waitFor('two periodic re-lists', () => followed.syncs.length >= periodic + 2);
  assert.deepEqual(followed.corrupt.map((e) => e.job).filter((j) => j === 'future'), ['future']);
});

test('a follower survives an etcd restart and catches up with changes made while it was cut off', async (t) => {
  const cluster = await EtcdCluster.start(1);
  const keys = new ClusterKeys('restart');
  const publisher = client(t, cluster.hosts);
  const followed = follower(t, keys, cluster.hosts);
  t.after(() => cluster.stop()); // last: after the follower stops and the clients close
  await publishJobs(publisher, keys, publishing('node-a', parse(crontab({ job: 'echo 1' }))));
  await followed.follower.start();

  await cluster.restart();
  const restartedMs = Date.now();
  await publishJobs(publisher, keys, publishing('node-a', parse(crontab({ job: 'echo 2', added: 'echo new' }))));
  await waitFor('the follower to catch up after the restart', () => commandOf(followed.follower, 'job') === 'echo 2' && followed.follower.jobs().has('added'), 30_000);
  t.diagnostic(`caught up ${Date.now() - restartedMs} ms after etcd was back`);
  assert.ok(followed.syncs.includes('disconnected') || followed.syncs.includes('watch-error'), `re-listed after the restart (${followed.syncs.join(', ')})`);

  // And the new watch works: the next change arrives without a re-list.
  const syncs = followed.syncs.length;
  await publishJobs(publisher, keys, publishing('node-a', parse(crontab({ job: 'echo 3', added: 'echo new' }))));
  await waitFor('the next change', () => commandOf(followed.follower, 'job') === 'echo 3');
  assert.equal(followed.syncs.length, syncs);
});

test('a follower whose member is down catches up when it returns (3 members, quorum kept)', async (t) => {
  const keys = new ClusterKeys('member-down');
  const publisher = client(t, [trio.hosts[0]]);
  const followed = follower(t, keys, [trio.hosts[2]]);
  await publishJobs(publisher, keys, publishing('node-a', parse(crontab({ job: 'echo 1' }))));
  await followed.follower.start();

  await trio.stopMember(2);
  await publishJobs(publisher, keys, publishing('node-a', parse(crontab({ job: 'echo 2' }))));
  await trio.startMember(2);
  const backMs = Date.now();
  await waitFor('the follower to catch up', () => commandOf(followed.follower, 'job') === 'echo 2', 30_000);
  t.diagnostic(`caught up ${Date.now() - backMs} ms after its member was back`);
});

for (const [what, extraChanges] of [['the revision right after the last one seen', 0], ['revisions well past the last one seen', 3]] as const) {
  test(`a follower resuming after compaction of ${what} re-lists instead of missing changes`, async (t) => {
    const keys = new ClusterKeys(`compaction-${extraChanges}`);
    const c = client(t, single.hosts);
    const followed = follower(t, keys, single.hosts);
    await publishJobs(c, keys, publishing('node-a', parse(crontab({ kept: 'echo 0', gone: 'echo gone' }))));
    await followed.follower.start();
    const seen = followed.follower.revision();

    await followed.follower.stop();
    // One transaction changes `kept` and deletes `gone`; compacting at its revision drops the delete from history.
    await publishJobs(c, keys, publishing('node-a', parse(crontab({ kept: 'echo 1' }))));
    for (let i = 2; i < 2 + extraChanges; i++) await publishJobs(c, keys, publishing('node-a', parse(crontab({ kept: `echo ${i}` }))));
    const compactedAt = await storeRevision(c);
    await c.kv.compact({ revision: String(compactedAt), physical: true });

    // start() would resume the watch from the revision after the last one seen; etcd no longer has it whole.
    await followed.follower.start();
    const last = `echo ${1 + extraChanges}`;
    await waitFor('the follower to re-list', () => commandOf(followed.follower, 'kept') === last && !followed.follower.jobs().has('gone'));
    assert.deepEqual(followed.syncs, ['start', 'compacted']);
    assert.equal(followed.follower.revision(), compactedAt);
    assert.ok(compactedAt > seen);
    const change = followed.changes.at(-1)!;
    assert.deepEqual([change.changed.map((c) => c.after.def.name), change.removed.map((r) => r.def.name), change.added], [['kept'], ['gone'], []], 'the re-list is reported as one diff');

    await publishJobs(c, keys, publishing('node-a', parse(crontab({ kept: 'echo after' }))));
    await waitFor('the new watch to deliver', () => commandOf(followed.follower, 'kept') === 'echo after');
  });
}

test('a watch cancelled by etcd (its start revision compacted) is replaced by a re-list and a new watch', async (t) => {
  const keys = new ClusterKeys('watch-error');
  const c = client(t, single.hosts);
  await publishJobs(c, keys, publishing('node-a', parse(crontab({ job: 'echo 1' }))));
  await c.kv.compact({ revision: String(await storeRevision(c)), physical: true });
  // The first watch asks for revision 1, long compacted: etcd creates it, then cancels it with a bare error.
  const followed = follower(t, keys, single.hosts, { wrap: (c) => withFirstWatchFrom(c, 1) });
  await followed.follower.start();
  await waitFor('the follower to re-list', () => followed.syncs.length === 2);
  assert.deepEqual(followed.syncs, ['start', 'watch-error']);
  assert.equal(followed.changes.length, 1, 'the re-list found nothing new and said nothing');

  await publishJobs(c, keys, publishing('node-a', parse(crontab({ job: 'echo 2' }))));
  await waitFor('the new watch to deliver', () => commandOf(followed.follower, 'job') === 'echo 2');
  assert.equal(followed.syncs.length, 2, 'delivered by the watch, not by another re-list');
});

test('the periodic re-list catches a change a silent watch never delivers', async (t) => {
  const keys = new ClusterKeys('silent');
  const c = client(t, single.hosts);
  await publishJobs(c, keys, publishing('node-a', parse(crontab({ job: 'echo 1' }))));
  const followed = follower(t, keys, single.hosts, { relistIntervalMs: 200, wrap: withSilentWatches });
  await followed.follower.start();
  assert.equal(commandOf(followed.follower, 'job'), 'echo 1');

  await publishJobs(c, keys, publishing('node-a', parse(crontab({ job: 'echo 2' }))));
  await waitFor('a periodic re-list to find the change', () => commandOf(followed.follower, 'job') === 'echo 2', 5_000);
  assert.ok(followed.syncs.includes('periodic'));
  // Re-lists that find nothing new are silent: one change event for the initial list, one for the change.
  await waitFor('a few more periodic re-lists', () => followed.syncs.filter((s) => s === 'periodic').length >= 3, 5_000);
  assert.equal(followed.changes.length, 2);
});
