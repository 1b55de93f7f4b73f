import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { PrefixMirror, type MirrorBatch, type MirrorChange, type SyncReason } from '../../src/daemon/coordination/etcd/prefix-mirror.js';
import { silentLogger } from '../../src/daemon/log.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';
import { withFirstWatchFrom, withSilentWatches } from '../helpers/etcd-watch-faults.js';

let etcd: EtcdCluster;

before(async () => {
  etcd = await EtcdCluster.start(1);
});

after(async () => {
  await etcd?.stop();
});

let seq = 0;
const freshPrefix = (): string => `/mirror-test/${process.pid}-${++seq}/`;

function client(t: TestContext): Etcd3 {
  const c = new Etcd3({ hosts: etcd.hosts });
  t.after(() => c.close());
  return c;
}

interface Watched {
  mirror: PrefixMirror<string>;
  batches: MirrorBatch<string>[];
  syncs: SyncReason[];
  /** Every change reported so far, in order. */
  changes(): MirrorChange<string>[];
}

/** A mirror of `prefix` whose values are the stored strings; stopped before the client closes. */
function mirrorOf(t: TestContext, c: Etcd3, prefix: string, opts: { relistIntervalMs?: number; watchPrefix?: string; pageKeys?: number; now?: () => number } = {}): Watched {
  const mirror = new PrefixMirror<string>({
    client: c,
    prefix,
    watchPrefix: opts.watchPrefix,
    decode: (kv) => kv.value.toString(),
    what: 'test',
    log: silentLogger,
    relistIntervalMs: opts.relistIntervalMs ?? 60_000,
    pageKeys: opts.pageKeys,
    now: opts.now,
  });
  t.after(() => mirror.stop());
  const batches: MirrorBatch<string>[] = [];
  const syncs: SyncReason[] = [];
  mirror.on('changes', (b) => batches.push(b));
  mirror.on('synced', ({ reason }) => syncs.push(reason));
  return { mirror, batches, syncs, changes: () => batches.flatMap((b) => b.changes) };
}

async function storeRevision(c: Etcd3): Promise<number> {
  return Number((await c.kv.range({ key: Buffer.from('/revision-probe') })).header.revision);
}

test('the first list spans pages and reports every key; the watch then reports each transaction as one batch, with previous values', async (t) => {
  const c = client(t);
  const prefix = freshPrefix();
  for (let i = 0; i < 25; i++) await c.put(`${prefix}k${String(i).padStart(2, '0')}`).value(`v${i}`);
  await c.put(`${prefix.slice(0, -1)}-outside`).value('not mine');
  const m = mirrorOf(t, c, prefix, { pageKeys: 4 });
  await m.mirror.start();
  assert.equal(m.mirror.entries().size, 25);
  assert.deepEqual(m.syncs, ['start']);
  assert.equal(m.batches.length, 1);
  assert.equal(m.batches[0].source, 'list');
  assert.equal(m.batches[0].changes.length, 25);
  assert.ok(m.batches[0].changes.every((ch) => ch.type === 'put' && ch.previous === undefined));

  await c
    .if(`${prefix}k00`, 'Create', '>', 0)
    .then(c.put(`${prefix}k00`).value('v0-new'), c.delete().key(`${prefix}k01`), c.put(`${prefix}new`).value('fresh'))
    .commit();
  await waitFor('the transaction to arrive', () => m.batches.length === 2);
  const [batch] = m.batches.slice(1);
  assert.equal(batch.source, 'watch');
  const byKey = new Map(batch.changes.map((ch) => [ch.key, ch]));
  assert.deepEqual(byKey.get(`${prefix}k00`), { type: 'put', key: `${prefix}k00`, value: 'v0-new', previous: 'v0', modRevision: m.mirror.entries().get(`${prefix}k00`)!.modRevision });
  assert.deepEqual(byKey.get(`${prefix}k01`), { type: 'delete', key: `${prefix}k01`, previous: 'v1' });
  assert.equal(byKey.get(`${prefix}new`)?.type, 'put');
  assert.equal(m.mirror.get(`${prefix}k01`), undefined);
  assert.equal(m.mirror.get(`${prefix}new`), 'fresh');
  assert.equal(m.mirror.revision(), await storeRevision(c));
});

test('a re-list after a silent watch reports the keys that vanished meanwhile as deletes with the value last seen, and only what changed', async (t) => {
  const c = client(t);
  const prefix = freshPrefix();
  for (const k of ['stays', 'changes', 'goes']) await c.put(`${prefix}${k}`).value(`${k}-1`);
  let clock = 1_000;
  const m = mirrorOf(t, withSilentWatches(c), prefix, { relistIntervalMs: 300, now: () => clock });
  await m.mirror.start();
  clock = 2_000;
  await c
    .if(`${prefix}changes`, 'Create', '>', 0)
    .then(c.put(`${prefix}changes`).value('changes-2'), c.delete().key(`${prefix}goes`), c.put(`${prefix}born`).value('born-1'))
    .commit();
  clock = 3_000;
  await waitFor('a periodic re-list to find the changes', () => m.batches.length === 2, 5_000);
  const diff = m.batches[1];
  assert.equal(diff.source, 'list');
  assert.ok(diff.notBeforeMs >= 1_000 && diff.notBeforeMs <= 2_000, `notBeforeMs ${diff.notBeforeMs}: no later than the changes were made`);
  const sorted = [...diff.changes].sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(
    sorted.map((ch) => [ch.type, ch.key.slice(prefix.length), ch.type === 'put' ? ch.value : null, ch.previous]),
    [
      ['put', 'born', 'born-1', undefined],
      ['put', 'changes', 'changes-2', 'changes-1'],
      ['delete', 'goes', null, 'goes-1'],
    ],
  );
  await waitFor('two more re-lists', () => m.syncs.filter((s) => s === 'periodic').length >= 3, 5_000);
  assert.equal(m.batches.length, 2, 're-lists that find nothing new report nothing');
});

test('a watch cancelled by etcd (its start revision compacted) is replaced by a re-list and a new watch', async (t) => {
  const c = client(t);
  const prefix = freshPrefix();
  await c.put(`${prefix}a`).value('1');
  await c.kv.compact({ revision: String(await storeRevision(c)), physical: true });
  const m = mirrorOf(t, withFirstWatchFrom(c, 1), prefix);
  await m.mirror.start();
  await waitFor('the mirror to re-list', () => m.syncs.length === 2);
  assert.deepEqual(m.syncs, ['start', 'watch-error']);
  assert.equal(m.batches.length, 1, 'the re-list found nothing new');
  await c.put(`${prefix}a`).value('2');
  await waitFor('the new watch to deliver', () => m.mirror.get(`${prefix}a`) === '2');
  assert.equal(m.syncs.length, 2, 'delivered by the watch, not by another re-list');
  assert.equal(m.batches.at(-1)?.source, 'watch');
});

test('a resumed mirror whose history was compacted re-lists, reporting what it missed', async (t) => {
  const c = client(t);
  const prefix = freshPrefix();
  await c.put(`${prefix}kept`).value('1');
  await c.put(`${prefix}gone`).value('1');
  const m = mirrorOf(t, c, prefix);
  await m.mirror.start();
  await m.mirror.stop();
  await c.put(`${prefix}kept`).value('2');
  await c.delete().key(`${prefix}gone`);
  await c.kv.compact({ revision: String(await storeRevision(c)), physical: true });
  await m.mirror.start();
  await waitFor('the re-list', () => m.syncs.length === 2);
  assert.deepEqual(m.syncs, ['start', 'compacted']);
  const diff = m.batches.at(-1)!;
  assert.deepEqual(
    diff.changes.map((ch) => [ch.type, ch.key.slice(prefix.length), ch.previous]).sort(),
    [
      ['delete', 'gone', '1'],
      ['put', 'kept', '1'],
    ],
  );
});

test('a wider watch prefix reports writes made with the mirrored keys in the same batch, without copying or listing them', async (t) => {
  const c = client(t);
  const root = freshPrefix();
  await c.put(`${root}other/x`).value('listed? no');
  const m = mirrorOf(t, c, `${root}mine/`, { watchPrefix: root });
  await m.mirror.start();
  assert.deepEqual([...m.mirror.entries().keys()], []);
  assert.equal(m.batches.length, 0, 'the key outside the mirrored prefix was not listed');
  await c.put(`${root}mine/run`).value('running');
  await waitFor('the put', () => m.mirror.get(`${root}mine/run`) === 'running');
  await c.if(`${root}mine/run`, 'Create', '>', 0).then(c.delete().key(`${root}mine/run`), c.put(`${root}other/summary`).value('done')).commit();
  await waitFor('the transaction', () => m.batches.length === 2);
  const batch = m.batches[1];
  assert.deepEqual(
    batch.changes.map((ch) => [ch.type, ch.key.slice(root.length), ch.previous]).sort(),
    [
      ['delete', 'mine/run', 'running'],
      ['put', 'other/summary', undefined],
    ],
  );
  assert.deepEqual([...m.mirror.entries().keys()], [], 'keys outside the mirrored prefix are not copied');
});
