import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A sharded job and a job after it on three daemons sharing one etcd,
 * judged from the ledger the jobs write themselves: every shard of every
 * tick once, spread over the hosts; the child once per parent tick, and
 * never before the last shard of that tick ended.
 */
const SHARDS = 6;
const ws = new Workspace();
let etcd: EtcdCluster;
const daemons: DaemonProcess[] = [];

before(async () => {
  etcd = await EtcdCluster.start(1);
});
after(async () => {
  await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  await etcd?.stop();
  ws.cleanup();
});

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

async function startNodes(cluster: string, crontab: string): Promise<DaemonProcess[]> {
  const started = await Promise.all(
    ['n1', 'n2', 'n3'].map((id) =>
      DaemonProcess.launch({ dataDir: ws.path(`${cluster}-${id}`), args: ['--etcd', etcd.endpoints, '--cluster', cluster, '--crontab', crontab, '--node-id', id, '--lease-ttl', '5s'] }),
    ),
  );
  daemons.push(...started);
  return started;
}

test('a sharded job on three hosts: every shard of every tick once, spread over the hosts; its child once per tick, after the last shard', { timeout: 120_000 }, async () => {
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
  const [n1] = await startNodes('shards', crontab);
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
  for (const t of ticks.filter((t) => t > ticks[0] && t <= lastChild)) {
    assert.equal(starts.filter((s) => s.tickMs === t).length, SHARDS, `tick ${t} has every shard`);
    assert.ok(childTicks.includes(t), `tick ${t} has its child`);
  }
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
