import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import { CuttableProxy } from '../../chaos/proxy.js';
import type { NodeView } from '../../src/daemon/control/api-types.js';
import { databasePath } from '../../src/daemon/paths.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { untilClock, waitFor } from '../helpers/wait.js';

/**
 * Three daemons with distinct node ids on one machine stand in for three
 * hosts. Every check reads the ledger the jobs write themselves, never
 * dcron's own bookkeeping.
 */
interface Entry {
  job: string;
  tickMs: number;
  host: string;
  fence: number;
}

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
const ws = new Workspace();
let etcd: EtcdCluster;
let etcd3: EtcdCluster;
const daemons: DaemonProcess[] = [];

before(async () => {
  [etcd, etcd3] = await Promise.all([EtcdCluster.start(1), EtcdCluster.start(3)]);
});
after(async () => {
  await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  await Promise.all([etcd?.stop(), etcd3?.stop()]);
  ws.cleanup();
});

function readLedger(path: string): Entry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [job, tickMs, host, fence] = l.split(' ');
      return { job, tickMs: Number(tickMs), host, fence: Number(fence) };
    });
}

/** A crontab of `count` jobs firing every second, each appending one ledger line per run. */
function writeCrontab(dir: string, count: number, directives = ''): { crontab: string; ledger: string } {
  mkdirSync(dir, { recursive: true });
  const ledger = join(dir, 'ledger');
  const lines = [];
  for (let i = 0; i < count; i++) {
    lines.push(`#dcron name=job-${i} ${directives}`.trim(), `* * * * * * echo "$DCRON_JOB $DCRON_TICK_MS $DCRON_HOST $DCRON_FENCE" | tee -a ${ledger}`);
  }
  const crontab = join(dir, 'crontab');
  writeFileSync(crontab, lines.join('\n') + '\n');
  return { crontab, ledger };
}

async function startNodes(endpoints: string, cluster: string, crontab: string, ids: string[], extra: (id: string) => { args?: string[]; env?: NodeJS.ProcessEnv } = () => ({})): Promise<DaemonProcess[]> {
  const started = await Promise.all(
    ids.map((id) => {
      const more = extra(id);
      return DaemonProcess.launch({
        dataDir: ws.path(`${cluster}-${id}`),
        args: ['--etcd', endpoints, '--cluster', cluster, '--crontab', crontab, '--node-id', id, '--lease-ttl', '5s', ...(more.args ?? [])],
        env: more.env,
      });
    }),
  );
  daemons.push(...started);
  return started;
}

/**
 * Every tick of every job in [fromMs, toMs] ran exactly once, except those
 * `mayMiss` allows; no tick anywhere ran twice; fences increase with ticks.
 */
function assertExactlyOnce(entries: Entry[], jobs: number, fromMs: number, toMs: number, mayMiss: (job: string, tickMs: number) => boolean = () => false): { checked: number } {
  const seen = new Map<string, Entry>();
  for (const e of entries) {
    const key = `${e.job}@${e.tickMs}`;
    assert.ok(!seen.has(key), `tick ran twice: ${key} on ${seen.get(key)?.host} and ${e.host}`);
    seen.set(key, e);
  }
  let checked = 0;
  const first = Math.ceil(fromMs / 1000) * 1000;
  for (let j = 0; j < jobs; j++) {
    for (let t = first; t <= toMs; t += 1000) {
      if (!seen.has(`job-${j}@${t}`) && !mayMiss(`job-${j}`, t)) assert.fail(`job-${j} tick ${new Date(t).toISOString()} did not run`);
      checked++;
    }
    const own = entries.filter((e) => e.job === `job-${j}`).sort((a, b) => a.tickMs - b.tickMs);
    for (let i = 1; i < own.length; i++) assert.ok(own[i].fence > own[i - 1].fence, `job-${j}: fence of a later tick is larger`);
  }
  return { checked };
}

/** Queries each stopped node's run log (SQLite, read-only). */
function queryRunLogs<T>(nodes: DaemonProcess[], sql: string, ...params: unknown[]): Array<{ node: DaemonProcess; rows: T[] }> {
  return nodes.map((node) => {
    const db = new Database(databasePath(node.dataDir), { readonly: true });
    try {
      return { node, rows: db.prepare(sql).all(...params) as T[] };
    } finally {
      db.close();
    }
  });
}

/** What each node's run log says of a job's tick: a missing tick explains itself. */
function recordsOf(nodes: DaemonProcess[], job: string, tickMs: number): string {
  return queryRunLogs(nodes, 'SELECT host, status, trigger, fence, started_ms, ended_ms, message FROM runs WHERE job = ? AND tick_ms = ?', job, tickMs)
    .map(({ node, rows }) => `${node.dataDir}: ${JSON.stringify(rows)}`)
    .join('\n');
}

/** Runs a check; if it fails, the daemons' warnings and errors, and their records of a missing tick, go with the failure. */
function withLogs(nodes: DaemonProcess[], check: () => void, context = ''): void {
  try {
    check();
  } catch (err) {
    const logs = nodes.map((n) => n.stderr.split('\n').filter((l) => /"level":"(warn|error)"/.test(l)).slice(-15).join('\n')).join('\n---\n');
    const missing = /^(\S+) tick (\S+) did not run/.exec((err as Error).message);
    const records = missing ? `\nrun records of that tick:\n${recordsOf(nodes, missing[1], Date.parse(missing[2]))}` : '';
    (err as Error).message += `\n${context}${records}\ndaemon warnings:\n${logs}`;
    throw err;
  }
}

/**
 * Ticks a daemon gave up, and recorded, because it could not prove its etcd lease: SPEC
 * section 3's answer to a host stalled past its lease window (claiming stops, on-lost
 * applies). Counted only on a node that logged the lapse, so a lapse-free run allows none.
 */
function lapsedTicks(nodes: DaemonProcess[]): Set<string> {
  const lapsed = new Set<string>();
  for (const { node, rows } of queryRunLogs<{ job: string; tick_ms: number; message: string | null }>(nodes, "SELECT job, tick_ms, message FROM runs WHERE status IN ('killed', 'lost', 'missed')")) {
    if (!node.stderr.includes("cannot prove this node's etcd lease")) continue;
    for (const r of rows) if (/lease lost|could not prove its etcd lease|leases unproven/.test(r.message ?? '')) lapsed.add(`${r.job}@${r.tick_ms}`);
  }
  return lapsed;
}

test('three daemons, 50 jobs every second for a minute: every tick once, spread over all three; logs cross hosts', async (t) => {
  // overlap=allow: this test is about claims. With overlap=skip (the default) a tick is rightly
  // skipped while the job's previous run holds its busy mark, and at 50 runs a second a 2-core
  // machine starts runs 0.3-1.2 s after their tick (spawn-bound), more while anything else runs:
  // what is skipped would measure the machine, not the claims. Busy marks across hosts have their own test
  // (cluster-wide policies, below); here any tick missing from the ledger fails.
  const { crontab, ledger } = writeCrontab(ws.path('main'), 50, 'overlap=allow');
  // The default lease TTL: 150 spawns a second stall a 2-core machine for seconds at times,
  // and this test is about claims, not about how short a stall a lease survives (the pause test is).
  const nodes = await startNodes(etcd.endpoints, 'main', crontab, ['node-1', 'node-2', 'node-3'], () => ({ args: ['--lease-ttl', '10s'] }));
  const fromMs = Date.now() + 2000;
  const toMs = fromMs + 60_000;
  await untilClock(toMs + 1500);

  // Before stopping: a run made on one host, read through another.
  const history = await nodes[0].call<RunRecord[]>('history', { job: 'job-7', limit: 10 });
  const remote = history.find((r) => r.host !== 'node-1' && r.status === 'ok')!;
  assert.ok(remote, 'node-1 sees runs made elsewhere');
  const logs = await cli(['logs', 'job-7', '--run', remote.id], { dataDir: nodes[0].dataDir });
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(logs.stdout, `job-7 ${remote.tickMs} ${remote.host} ${remote.fence}\n`);

  await Promise.all(nodes.map((n) => n.stop()));
  const entries = readLedger(ledger);
  const lapsed = lapsedTicks(nodes);
  let checked = 0;
  withLogs(nodes, () => ({ checked } = assertExactlyOnce(entries, 50, fromMs, toMs, (job, tickMs) => lapsed.has(`${job}@${tickMs}`))));
  assert.ok(checked >= 50 * 60);
  t.diagnostic(`${lapsed.size} ticks given up, and recorded, while a daemon could not prove its lease`);
  assert.ok(lapsed.size <= checked * 0.05, `${lapsed.size} of ${checked} ticks given up for unproven leases: more than a stall explains`);
  const perHost = new Map<string, number>();
  for (const e of entries) perHost.set(e.host, (perHost.get(e.host) ?? 0) + 1);
  for (const id of ['node-1', 'node-2', 'node-3']) {
    const share = (perHost.get(id) ?? 0) / entries.length;
    assert.ok(share > 0.25 && share < 0.42, `${id} ran ${(share * 100).toFixed(1)}% of ${entries.length} runs`);
  }
});

test('kill -9 of one daemon on a 3-member etcd loses no tick outside its in-flight runs', async () => {
  // overlap=allow: a host killed mid-run keeps its overlap=skip busy mark until its
  // lease expires (its orphaned job may still run), and the ticks meanwhile are
  // rightly recorded as skipped. This test is about claims changing hands.
  const { crontab, ledger } = writeCrontab(ws.path('crash'), 10, 'overlap=allow');
  const nodes = await startNodes(etcd3.endpoints, 'crash', crontab, ['a', 'b', 'c']);
  const fromMs = Date.now() + 2000;
  await untilClock(fromMs + 5000);
  nodes[1].child.kill('SIGKILL');
  const killedMs = Date.now();
  await untilClock(killedMs + 8000);
  const toMs = Date.now() - 1500;
  await Promise.all([nodes[0].stop(), nodes[2].stop()]);
  // Only a tick the dead node had claimed but not yet started may be missing.
  const entries = readLedger(ledger);
  const missing = (job: string, t: number) => t > killedMs - 1500 && t <= killedMs + 500;
  withLogs(nodes, () => assertExactlyOnce(entries, 10, fromMs, toMs, missing), `killed at ${new Date(killedMs).toISOString()}`);
  assert.ok(entries.some((e) => e.host === 'b' && e.tickMs < killedMs) && !entries.some((e) => e.host === 'b' && e.tickMs > killedMs + 500));
});

test('a daemon paused past its lease TTL runs no tick twice when it resumes', async () => {
  const { crontab, ledger } = writeCrontab(ws.path('pause'), 10, 'overlap=allow');
  const nodes = await startNodes(etcd.endpoints, 'pause', crontab, ['p1', 'p2', 'p3'], () => ({ args: ['--lease-ttl', '2s'] }));
  const fromMs = Date.now() + 2000;
  await untilClock(fromMs + 3000);
  process.kill(nodes[0].pid, 'SIGSTOP');
  const stoppedMs = Date.now();
  await untilClock(stoppedMs + 5000); // lease TTL is 2 s (the later --lease-ttl wins)
  process.kill(nodes[0].pid, 'SIGCONT');
  await waitFor('the paused daemon to claim again', () => readLedger(ledger).some((e) => e.host === 'p1' && e.tickMs > stoppedMs + 6000), 20_000);
  const toMs = Date.now() - 1500;
  await Promise.all(nodes.map((n) => n.stop()));
  withLogs(nodes, () => assertExactlyOnce(readLedger(ledger), 10, fromMs, toMs, (_job, t) => t > stoppedMs - 1500 && t <= stoppedMs + 500));
});

test('a daemon whose clock is 5 s behind runs no tick twice, and nodes shows its skew', async () => {
  const { crontab, ledger } = writeCrontab(ws.path('skew'), 10);
  const nodes = await startNodes(etcd.endpoints, 'skew', crontab, ['s1', 's2', 'late'], (id) =>
    // libfaketime preloaded into the daemon itself: the faketime wrapper forks, and would leave the daemon behind when stopped.
    id === 'late' ? { env: { LD_PRELOAD: LIBFAKETIME, FAKETIME: '-5s', FAKETIME_DONT_FAKE_MONOTONIC: '1' } } : {},
  );
  const fromMs = Date.now() + 2000;
  await untilClock(fromMs + 12_000);
  const view = await nodes[0].call<NodeView[]>('nodes');
  const late = view.find((n) => n.id === 'late')!;
  assert.ok(late.skewMs < -4500 && late.skewMs > -5500, `skew of the late node: ${late.skewMs}`);
  const shown = await cli(['nodes'], { dataDir: nodes[0].dataDir });
  assert.match(shown.stdout, /late .*-\d{4}ms \(!\)/);
  const toMs = Date.now() - 1500;
  await Promise.all(nodes.map((n) => n.stop()));
  withLogs(nodes, () => assertExactlyOnce(readLedger(ledger), 10, fromMs, toMs));
});

/** One failover=rerun job that never fires by itself (started with `dcron run`), writing `tick host trigger` then sleeping 2 s. */
function writeFailoverCrontab(name: string): { crontab: string; ledger: string } {
  const dir = ws.path(name);
  mkdirSync(dir, { recursive: true });
  const ledger = join(dir, 'ledger');
  const crontab = join(dir, 'crontab');
  writeFileSync(crontab, `#dcron name=long failover=rerun\n0 0 1 1 * echo "$DCRON_TICK_MS $DCRON_HOST $DCRON_TRIGGER" >> ${ledger}; sleep 2\n`);
  return { crontab, ledger };
}

test('failover=rerun: a tick whose host died mid-run runs again on another host', async () => {
  const { crontab, ledger } = writeFailoverCrontab('failover');
  const nodes = await startNodes(etcd.endpoints, 'failover', crontab, ['f1', 'f2', 'f3']);
  const started = await cli(['run', 'long'], { dataDir: nodes[0].dataDir });
  assert.equal(started.code, 0, started.stderr);
  // Whole lines only: the shell creates the file (>>) a moment before echo writes to it.
  const lines = () => (existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter((l) => l.split(' ').length === 3).map((l) => l.split(' ')) : []);
  const [[tick, host]] = await waitFor('the run to start', () => lines().length > 0 && lines());
  const victim = nodes[['f1', 'f2', 'f3'].indexOf(host)];
  victim.child.kill('SIGKILL');
  const rerun = await waitFor('the failover run', () => lines().find((l) => l[2] === 'failover'), 15_000);
  assert.equal(rerun[0], tick, 'the same tick runs again');
  assert.notEqual(rerun[1], host);
  assert.equal(lines().filter((l) => l[2] === 'failover').length, 1, 'exactly one host reruns it');
  await Promise.all(nodes.filter((n) => n !== victim).map((n) => n.stop()));
});

test('failover=rerun after etcd compacted past every daemon\'s watch revision: a host killed mid-run is rerun on a survivor', async () => {
  const { crontab, ledger } = writeFailoverCrontab('failover-compacted');
  const member = new URL(etcd.hosts[0]);
  const ids = ['c1', 'c2', 'c3'];
  // Each daemon reaches etcd through a relay of its own, so its connections can be cut without touching etcd.
  const proxies = await Promise.all(ids.map(() => CuttableProxy.start({ host: member.hostname, port: Number(member.port) })));
  const client = new Etcd3({ hosts: etcd.hosts });
  try {
    const nodes = await Promise.all(
      ids.map((id, i) =>
        DaemonProcess.launch({ dataDir: ws.path(`failover-compacted-${id}`), args: ['--etcd', proxies[i].url, '--cluster', 'failover-compacted', '--crontab', crontab, '--node-id', id, '--lease-ttl', '5s'] }),
      ),
    );
    daemons.push(...nodes);
    await waitFor('every daemon to see the others', async () => (await Promise.all(nodes.map((n) => n.call<NodeView[]>('nodes')))).every((v) => v.length === 3));

    // Cut every daemon off, move the store past every revision their watches have seen, and compact it:
    // a watch resumed from where it stood is cancelled by etcd (compacted), with a bare error.
    for (const p of proxies) p.sever();
    for (let i = 0; i < 3; i++) await client.put('/failover-compacted-probe').value(String(i));
    const { header } = await client.kv.range({ key: Buffer.from('/failover-compacted-probe') });
    await client.kv.compact({ revision: header.revision, physical: true });
    for (const p of proxies) p.restore();

    // Whole lines only: the shell creates the file (>>) a moment before echo writes to it.
    const lines = () => (existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter((l) => l.split(' ').length === 3).map((l) => l.split(' ')) : []);
    await waitFor('a manual run to be accepted after the cut', async () => (await cli(['run', 'long'], { dataDir: nodes[0].dataDir })).code === 0, 20_000);
    const [[tick, host]] = await waitFor('the run to start', () => lines().length > 0 && lines(), 15_000);
    const victim = nodes[ids.indexOf(host)];
    victim.child.kill('SIGKILL');
    const rerun = await waitFor('the failover run on a survivor', () => lines().find((l) => l[2] === 'failover'), 20_000).catch((err: Error) => {
      const logs = nodes.filter((n) => n !== victim).map((n) => n.stderr.split('\n').filter((l) => /watch|failover/.test(l)).slice(-10).join('\n'));
      throw new Error(`${err.message}\nsurvivors' watch and failover logs:\n${logs.join('\n---\n')}`);
    });
    assert.equal(rerun[0], tick, 'the same tick runs again');
    assert.notEqual(rerun[1], host);
    assert.equal(lines().filter((l) => l[2] === 'failover').length, 1, 'exactly one host reruns it');
    await Promise.all(nodes.filter((n) => n !== victim).map((n) => n.stop()));
  } finally {
    client.close();
    await Promise.all(proxies.map((p) => p.close()));
  }
});

test('cluster-wide policies: mode=all runs on every host, hosts= pins, overlap=skip never overlaps across hosts', async () => {
  const dir = ws.path('policies');
  mkdirSync(dir, { recursive: true });
  const log = (name: string) => join(dir, name);
  const crontab = join(dir, 'crontab');
  writeFileSync(
    crontab,
    [
      '#dcron name=wide mode=all',
      `* * * * * * echo "$DCRON_TICK_MS $DCRON_HOST" >> ${log('wide')}`,
      '#dcron name=pinned hosts=x2',
      `* * * * * * echo "$DCRON_TICK_MS $DCRON_HOST" >> ${log('pinned')}`,
      '#dcron name=slow overlap=skip',
      `* * * * * * echo "start $(date +\\%s\\%N) $DCRON_HOST" >> ${log('slow')}; sleep 2.5; echo "end $(date +\\%s\\%N) $DCRON_HOST" >> ${log('slow')}`,
      '',
    ].join('\n'),
  );
  const nodes = await startNodes(etcd.endpoints, 'policies', crontab, ['x1', 'x2', 'x3']);
  const fromMs = Date.now() + 2000;
  await untilClock(fromMs + 9000);
  const toMs = Date.now() - 1500;
  const history = await nodes[0].call<RunRecord[]>('history', { job: 'slow', limit: 100 });
  await Promise.all(nodes.map((n) => n.stop()));

  const rows = (name: string) => (existsSync(log(name)) ? readFileSync(log(name), 'utf8').trim().split('\n').map((l) => l.split(' ')) : []);
  const wide = rows('wide').map(([t, h]) => `${t}@${h}`);
  assert.equal(new Set(wide).size, wide.length, 'mode=all: no host runs a tick twice');
  for (let t = Math.ceil(fromMs / 1000) * 1000; t <= toMs; t += 1000) {
    for (const h of ['x1', 'x2', 'x3']) assert.ok(wide.includes(`${t}@${h}`), `mode=all: ${h} ran tick ${t}`);
  }
  assert.ok(rows('pinned').length >= 8 && rows('pinned').every(([, h]) => h === 'x2'), 'hosts=x2 runs only on x2');

  // overlap=skip: intervals [start, end] of runs never intersect, whichever hosts ran them.
  const events = rows('slow').map(([kind, ns, host]) => ({ kind, at: BigInt(ns), host }));
  let open = 0;
  for (const e of events.sort((a, b) => (a.at < b.at ? -1 : 1))) {
    open += e.kind === 'start' ? 1 : -1;
    assert.ok(open <= 1, 'two runs of an overlap=skip job at once');
  }
  assert.ok(history.some((r) => r.status === 'skipped'), 'ticks that came while it ran are recorded as skipped');
});
