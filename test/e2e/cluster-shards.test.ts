import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { type DaemonProcess, cli } from '../helpers/daemon-process.js';
import { ClusterFixture, queryEachNode } from '../helpers/cluster-fixture.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A sharded job and a job after it on three daemons sharing one etcd,
 * judged from the ledger the jobs write themselves: every shard of every
 * tick once, spread over the hosts; the child once per parent tick, and
 * never before the last shard of that tick ended.
 */
const SHARDS = 6;
const fx = new ClusterFixture();
const { ws } = fx;

interface Line {
  kind: string;
  tickMs: number;
  shard: number;
  host: string;
  fence: number;
  atMs: number;
}

function readLedger(path: string): Line[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [kind, tickMs, shard, host, fence, atMs] = l.split(' ');
      return { kind, tickMs: Number(tickMs), shard: Number(shard), host, fence: Number(fence), atMs: Number(atMs) };
    });
}

interface TickRecord {
  host: string;
  shard: number | null;
  status: string;
  fence: number | null;
  message: string | null;
}

/** What every node recorded of a tick of a job (its SQLite file, read-only while it runs). */
function recordsOf(nodes: DaemonProcess[], job: string, tickMs: number): TickRecord[] {
  return queryEachNode(nodes, 'SELECT host, shard, status, fence, message FROM runs WHERE job = ? AND tick_ms = ? ORDER BY shard', job, tickMs);
}

const startNodes = (cluster: string, crontab: string): Promise<DaemonProcess[]> => fx.startNodes(cluster, crontab, ['n1', 'n2', 'n3'], ['--lease-ttl', '5s']);

test('a sharded job on three hosts: every shard of every tick once, spread over the hosts; its child once per tick, after the last shard', { timeout: 120_000 }, async (ctx) => {
  mkdirSync(ws.path('shards'), { recursive: true });
  const ledger = ws.path('shards/ledger');
  // `%` ends a crontab command: escaped, it reaches the shell as itself.
  const now = 'date +\\%s\\%3N';
  const crontab = ws.path('shards/crontab');
  writeFileSync(
    crontab,
    [
      `#dcron name=split shards=${SHARDS}`,
      `* * * * * * echo "start $DCRON_TICK_MS $DCRON_SHARD $DCRON_HOST $DCRON_FENCE $(${now})" >> ${ledger}; echo "end $DCRON_TICK_MS $DCRON_SHARD $DCRON_HOST $DCRON_FENCE $(${now})" >> ${ledger}; echo "shard $DCRON_SHARD on $DCRON_HOST"`,
      '#dcron name=after-split after=split',
      `@after echo "child $DCRON_TICK_MS - $DCRON_HOST $DCRON_FENCE $(${now}) $DCRON_TRIGGER" >> ${ledger}`,
      '',
    ].join('\n'),
  );
  const nodes = await startNodes('shards', crontab);
  const [n1] = nodes;
  await waitFor('children of 8 ticks', () => new Set(readLedger(ledger).filter((l) => l.kind === 'child').map((l) => l.tickMs)).size >= 8, 60_000, 100);
  const lines = readLedger(ledger);
  const starts = lines.filter((l) => l.kind === 'start');
  const ends = lines.filter((l) => l.kind === 'end');
  const children = lines.filter((l) => l.kind === 'child');

  const seen = new Set<string>();
  for (const s of starts) {
    const key = `${s.tickMs}/${s.shard}`;
    assert.ok(!seen.has(key), `shard ${s.shard} of tick ${s.tickMs} ran twice`);
    seen.add(key);
  }
  // Every tick a child ran for had all its shards, each ended before the child started.
  const childTicks = children.map((c) => c.tickMs);
  assert.equal(new Set(childTicks).size, childTicks.length, 'one child per parent tick');
  for (const child of children) {
    const shardEnds = ends.filter((e) => e.tickMs === child.tickMs);
    assert.equal(shardEnds.length, SHARDS, `tick ${child.tickMs}: the child ran after ${shardEnds.length} of ${SHARDS} shards ended`);
    const lastEnd = Math.max(...shardEnds.map((e) => e.atMs));
    assert.ok(child.atMs >= lastEnd, `tick ${child.tickMs}: the child started at ${child.atMs}, before the last shard ended at ${lastEnd}`);
  }
  // Every tick from the first full one to the last child's: all shards, and its child.
  const ticks = [...new Set(starts.map((s) => s.tickMs))].sort((a, b) => a - b);
  const lastChild = Math.max(...childTicks);
  // A shard may be skipped: overlap=skip, its run of the tick before still going on a loaded machine.
  // It is recorded, and its tick ends incomplete, with no child.
  let incomplete = 0;
  for (const t of ticks.filter((t) => t > ticks[0] && t <= lastChild)) {
    const records = recordsOf(nodes, 'split', t);
    const skipped = records.filter((r) => r.status === 'skipped' && r.fence !== null && /overlap=skip/.test(r.message ?? ''));
    assert.equal(starts.filter((s) => s.tickMs === t).length + skipped.length, SHARDS, `tick ${t} (first ${ticks[0]}) has every shard, run or skipped; records:\n${JSON.stringify(records)}`);
    if (skipped.length > 0) incomplete++;
    assert.equal(childTicks.includes(t), skipped.length === 0, skipped.length === 0 ? `tick ${t} has its child` : `tick ${t} had ${skipped.length} shard(s) skipped, yet its child ran`);
  }
  ctx.diagnostic(`${incomplete} tick(s) with a skipped shard, ended incomplete, without a child`);
  // Fences strictly increase per shard, tick after tick.
  for (let shard = 0; shard < SHARDS; shard++) {
    const fences = starts.filter((s) => s.shard === shard).sort((a, b) => a.tickMs - b.tickMs).map((s) => s.fence);
    assert.ok(fences.every((f, i) => i === 0 || f > fences[i - 1]), `shard ${shard}: fences ${fences.join(',')}`);
  }
  const perHost = new Map<string, number>();
  for (const s of starts) perHost.set(s.host, (perHost.get(s.host) ?? 0) + 1);
  assert.equal(perHost.size, 3, `every host ran shards: ${JSON.stringify([...perHost])}`);

  // Any host's history shows each shard's run with the host that ran it.
  const history = await cli(['history', 'split', '--json', '--limit', '200'], { dataDir: n1.dataDir });
  assert.equal(history.code, 0, history.stderr);
  const runs = JSON.parse(history.stdout) as RunRecord[];
  const hosts = new Set(runs.map((r) => r.host));
  assert.ok(hosts.size >= 2, `history from n1 shows runs of other hosts: ${[...hosts].join(',')}`);
  assert.ok(runs.every((r) => r.shards === SHARDS && r.shard !== null && r.shard >= 0 && r.shard < SHARDS), 'every run names its shard');

  // Any host shows any shard's output, wherever it ran.
  // The job runs every second: its newest run may have just started, with nothing printed yet.
  for (const shard of [0, SHARDS - 1]) {
    const printed = await waitFor(`shard ${shard}'s output`, async () => {
      const logs = await cli(['logs', 'split', '--shard', String(shard)], { dataDir: n1.dataDir });
      assert.equal(logs.code, 0, logs.stderr);
      return logs.stdout !== '' && logs.stdout;
    }, 10_000, 100);
    assert.match(printed, new RegExp(`^shard ${shard} on n[123]$`, 'm'));
  }
});

test('dcron kill of a sharded job kills every running shard, wherever it runs', { timeout: 60_000 }, async () => {
  mkdirSync(ws.path('kill'), { recursive: true });
  const crontab = ws.path('kill/crontab');
  const started = ws.path('kill/started');
  writeFileSync(crontab, ['#dcron name=slow shards=3 overlap=skip', `* * * * * * echo "$DCRON_SHARD $DCRON_HOST" >> ${started}; sleep 300`, ''].join('\n'));
  const [n1] = await startNodes('kill', crontab);
  await waitFor('all three shards running', () => existsSync(started) && new Set(readFileSync(started, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0])).size === 3, 30_000, 50);
  const killed = await cli(['kill', 'slow'], { dataDir: n1.dataDir });
  assert.equal(killed.code, 0, killed.stderr);
  const runs = await waitFor(
    'every shard recorded killed',
    async () => {
      const h = await cli(['history', 'slow', '--json', '--limit', '100'], { dataDir: n1.dataDir });
      const records = JSON.parse(h.stdout || '[]') as RunRecord[];
      const killedShards = new Set(records.filter((r) => r.status === 'killed').map((r) => r.shard));
      return killedShards.size === 3 && records;
    },
    30_000,
    200,
  );
  assert.ok(runs.filter((r) => r.status === 'killed').every((r) => r.shards === 3));
});

test('a mode=all job on three hosts: a tick ends when every host that ran it has, alerts once naming the failed host, and its children follow once per tick', { timeout: 120_000 }, async () => {
  mkdirSync(ws.path('wide'), { recursive: true });
  const ledger = ws.path('wide/ledger');
  const alerts = ws.path('wide/alerts');
  const now = 'date +\\%s\\%3N';
  const crontab = ws.path('wide/crontab');
  // n2 fails every other tick (the tick's second is 2 modulo 4).
  writeFileSync(
    crontab,
    [
      `#dcron name=wide mode=all on-failure="echo $DCRON_TICK_MS $DCRON_FAILED_HOSTS >> ${alerts}"`,
      `*/2 * * * * * echo "end $DCRON_TICK_MS - $DCRON_HOST $DCRON_FENCE $(${now})" >> ${ledger}; [ $DCRON_HOST != n2 ] || [ $(( DCRON_TICK_MS / 2000 \\% 2 )) = 0 ]`,
      '#dcron name=then after=wide',
      `@after echo "child $DCRON_TICK_MS - $DCRON_HOST 0 $(${now})" >> ${ledger}`,
      '#dcron name=otherwise after-failure=wide',
      `@after echo "fchild $DCRON_TICK_MS - $DCRON_HOST 0 $(${now})" >> ${ledger}`,
      '',
    ].join('\n'),
  );
  await startNodes('wide', crontab);
  const kinds = (kind: string) => new Set(readLedger(ledger).filter((l) => l.kind === kind).map((l) => l.tickMs)).size;
  await waitFor('children of 3 ok ticks and 3 failed ticks', () => kinds('child') >= 3 && kinds('fchild') >= 3, 60_000, 100);
  const lines = readLedger(ledger);
  const ends = lines.filter((l) => l.kind === 'end');
  const failing = (t: number) => (t / 2000) % 2 === 1;
  // Judged from the first tick every host ran: before it, a node starting up may not have seen its peers.
  const steady = Math.min(...[...new Set(ends.map((e) => e.tickMs))].filter((t) => new Set(ends.filter((e) => e.tickMs === t).map((e) => e.host)).size === 3));
  const judged = (l: Line) => l.tickMs > steady;

  for (const [kind, wanted] of [['child', false], ['fchild', true]] as const) {
    const children = lines.filter((l) => l.kind === kind && judged(l));
    assert.ok(children.length >= 1, `${kind} ran for a judged tick`);
    assert.equal(new Set(children.map((c) => c.tickMs)).size, children.length, `${kind}: once per parent tick`);
    for (const child of children) {
      assert.equal(failing(child.tickMs), wanted, `${kind} ran for tick ${child.tickMs}, which ${failing(child.tickMs) ? 'failed' : 'ended ok'}`);
      const hostEnds = ends.filter((e) => e.tickMs === child.tickMs);
      assert.equal(new Set(hostEnds.map((e) => e.host)).size, hostEnds.length, `tick ${child.tickMs}: each host ran it once`);
      // An ok tick ends when every host has; a failed one at its failed host's end.
      const awaited = wanted ? hostEnds.filter((e) => e.host === 'n2') : hostEnds;
      assert.equal(awaited.length, wanted ? 1 : 3, `tick ${child.tickMs}: ${kind} ran after ${awaited.length} hosts' ends`);
      const last = Math.max(...awaited.map((e) => e.atMs));
      assert.ok(child.atMs >= last, `tick ${child.tickMs}: ${kind} started at ${child.atMs}, before the end it follows at ${last}`);
    }
  }
  // Every judged tick up to the newest child's has its child: ok ticks `then`, failed ones `otherwise`.
  const newest = Math.max(...lines.filter((l) => l.kind === 'child' || l.kind === 'fchild').map((l) => l.tickMs));
  for (const t of [...new Set(ends.map((e) => e.tickMs))].filter((t) => t > steady && t < newest)) {
    assert.ok(lines.some((l) => l.tickMs === t && l.kind === (failing(t) ? 'fchild' : 'child')), `tick ${t} has its ${failing(t) ? 'after-failure' : 'after'} child`);
  }
  // One alert per failed tick, naming the host that failed.
  const alerted = readFileSync(alerts, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([t]) => Number(t) > steady && Number(t) < newest);
  assert.ok(alerted.length >= 1);
  assert.equal(new Set(alerted.map(([t]) => t)).size, alerted.length, 'one alert per tick, not one per host');
  for (const [t, hosts] of alerted) assert.ok(failing(Number(t)) && hosts === 'n2', `alert for tick ${t} names ${hosts}`);
});
