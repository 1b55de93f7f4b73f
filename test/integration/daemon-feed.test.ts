import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { socketPath } from '../../src/daemon/paths.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import type { TuiState } from '../../src/tui/model.js';
import { DaemonFeed } from '../../src/tui/daemon-feed.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

const ws = new Workspace();
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  ws.cleanup();
});

/** A feed whose every emitted state is stamped with the wall clock when it arrived. */
function startFeed(dataDir: string): { feed: DaemonFeed; seen: Array<{ atMs: number; state: TuiState }> } {
  const feed = new DaemonFeed({ socketPath: socketPath(dataDir), reconnectMs: 100 });
  const seen: Array<{ atMs: number; state: TuiState }> = [];
  feed.on('change', (state) => seen.push({ atMs: Date.now(), state }));
  feed.start();
  cleanups.push(() => feed.stop());
  return { feed, seen };
}

/** When the feed first showed the run in the given status, and the record it showed. */
function firstSeen(seen: Array<{ atMs: number; state: TuiState }>, runId: string, status: 'running' | 'ok'): { atMs: number; run: RunRecord; state: TuiState } | undefined {
  for (const { atMs, state } of seen) {
    const run = (status === 'running' ? state.running : state.recent).find((r) => r.id === runId && r.status === status);
    if (run) return { atMs, run, state };
  }
  return undefined;
}

const names = (s: TuiState) => s.jobs.map((j) => j.name);

test('the feed gets a snapshot, live run and job events, and reconnects by itself after a daemon restart', async () => {
  const crontab = (extra: string[] = []) => ['#dcron name=beta', '0 0 1 1 * true', '#dcron name=alpha', `0 0 1 1 * sleep 0.3`, ...extra, ''].join('\n');
  ws.writeCrontab(crontab());
  let daemon = await DaemonProcess.start(ws);
  cleanups.push(() => daemon.stop());
  const { feed, seen } = startFeed(ws.dataDir);

  await waitFor('the snapshot', () => feed.state().connected);
  assert.deepEqual(names(feed.state()), ['alpha', 'beta']);
  assert.equal(feed.state().status?.node, 'test-node');

  const started = await cli(['run', 'alpha'], { dataDir: ws.dataDir });
  assert.equal(started.code, 0, started.stderr);
  const runId = /run ([0-9A-Z]{26})/.exec(started.stdout)![1];
  const running = await waitFor('the run to show as running', () => firstSeen(seen, runId, 'running'));
  assert.deepEqual(running.state.jobs.find((j) => j.name === 'alpha')?.running, [{ runId, host: 'test-node' }]);
  const ok = await waitFor('the run to show as ok', () => firstSeen(seen, runId, 'ok'));
  assert.equal(feed.state().running.length, 0);
  assert.equal(feed.state().jobs.find((j) => j.name === 'alpha')?.lastRun?.status, 'ok');
  // Daemon and test share the machine's clock: this is the event's whole trip, daemon to feed to `change`.
  const startLatency = running.atMs - running.run.startedMs;
  const finishLatency = ok.atMs - ok.run.endedMs!;
  console.log(`# event latency: run start ${startLatency} ms, run finish ${finishLatency} ms`);
  assert.ok(startLatency < 2000 && finishLatency < 2000, `latency ${startLatency} / ${finishLatency} ms`);

  ws.writeCrontab(crontab(['#dcron name=gamma', '0 0 1 1 * true']));
  await daemon.call('reload');
  await waitFor('the jobs event with the new job', () => names(feed.state()).includes('gamma'));

  await daemon.stop();
  const down = await waitFor('the feed to notice the daemon is gone', () => (feed.state().connected ? undefined : feed.state()));
  assert.match(down.error ?? '', /dcron\.sock/);
  assert.ok(down.retryAtMs !== null);
  await waitFor('a failed reconnect attempt', () => /cannot reach the dcron daemon/.test(feed.state().error ?? ''));

  ws.writeCrontab(crontab(['#dcron name=delta', '0 0 1 1 * true']));
  daemon = await DaemonProcess.start(ws);
  const back = await waitFor('the feed to reconnect by itself', () => (feed.state().connected ? feed.state() : undefined), 10_000);
  assert.deepEqual(names(back), ['alpha', 'beta', 'delta'], 'a fresh snapshot, not the old list');
  assert.equal(back.error, null);
  assert.ok(back.recent.some((r) => r.id === runId), 'history from before the restart');
});

test('in a cluster, a feed on one node sees a run made on another', async () => {
  const etcd = await EtcdCluster.start(1);
  cleanups.push(() => etcd.stop());
  const crontab = ws.path('cluster-crontab');
  writeFileSync(crontab, ['#dcron name=elsewhere hosts=node-b', '0 0 1 1 * sleep 0.3', ''].join('\n'));
  const [a, b] = await Promise.all(
    ['node-a', 'node-b'].map((id) =>
      DaemonProcess.launch({ dataDir: ws.path(`cluster-${id}`), args: ['--etcd', etcd.endpoints, '--cluster', 'feed', '--crontab', crontab, '--node-id', id, '--lease-ttl', '2s'] }),
    ),
  );
  cleanups.push(() => a.stop('SIGKILL'), () => b.stop('SIGKILL'));
  const { feed, seen } = startFeed(a.dataDir);
  await waitFor('the snapshot', () => feed.state().connected && feed.state().jobs.length === 1);
  await waitFor('both nodes in the feed', () => feed.state().nodes.length === 2, 10_000);

  const started = await cli(['run', 'elsewhere'], { dataDir: b.dataDir });
  assert.equal(started.code, 0, started.stderr);
  const runId = /run ([0-9A-Z]{26})/.exec(started.stdout)![1];
  const running = await waitFor('node-a to see the run start on node-b', () => firstSeen(seen, runId, 'running'));
  assert.equal(running.run.host, 'node-b');
  assert.deepEqual(running.state.jobs[0].running, [{ runId, host: 'node-b' }]);
  const ok = await waitFor('node-a to see it finish', () => firstSeen(seen, runId, 'ok'));
  console.log(`# cluster event latency: run start ${running.atMs - running.run.startedMs} ms, run finish ${ok.atMs - ok.run.endedMs!} ms`);
  assert.deepEqual(feed.state().running, []);
  assert.equal(feed.state().jobs[0].lastRun?.id, runId);
});
