import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace } from '../helpers/daemon-process.js';
import { untilClock, waitFor } from '../helpers/wait.js';

/** One host: a sharded job's tick fails and alerts once, not once per shard; after-failure follows it once per tick. */
const ws = new Workspace();
after(() => ws.cleanup());

const linesIn = (w: Workspace, name: string) => (existsSync(w.path(name)) ? readFileSync(w.path(name), 'utf8').split('\n').filter(Boolean) : []);
const lines = (name: string) => linesIn(ws, name);

test('a sharded tick with failing shards alerts once, naming failed shards, and its after-failure child runs once per tick', { timeout: 60_000 }, async () => {
  ws.writeCrontab(
    [
      `#dcron name=split shards=4 on-failure="echo $DCRON_TICK_MS $DCRON_FAILED_SHARDS >> ${ws.path('alerts')}"`,
      `* * * * * * echo "$DCRON_TICK_MS $DCRON_SHARD $DCRON_SHARDS" >> ${ws.path('shards')}; [ $DCRON_SHARD -ne 1 ] && [ $DCRON_SHARD -ne 3 ]`,
      '#dcron name=cleanup after-failure=split',
      `@after echo "$DCRON_TICK_MS $DCRON_TRIGGER $DCRON_PARENT_TICK" >> ${ws.path('cleanup')}`,
      '#dcron name=never after=split',
      `@after echo ran >> ${ws.path('never')}`,
      '',
    ].join('\n'),
  );
  const daemon = await DaemonProcess.start(ws);
  try {
    await waitFor('four ticks alerted and cleaned up after', () => lines('cleanup').length >= 4 && lines('alerts').length >= 4, 30_000, 50);
    const alerts = lines('alerts').map((l) => l.split(' '));
    const alertTicks = alerts.map(([tick]) => tick);
    assert.equal(new Set(alertTicks).size, alertTicks.length, 'one alert per tick, not one per failed shard');
    for (const [, failed] of alerts) assert.ok(failed.split(',').every((s) => s === '1' || s === '3') && failed !== '', `names the failed shards: ${failed}`);

    const cleanup = lines('cleanup').map((l) => l.split(' '));
    assert.equal(new Set(cleanup.map(([t]) => t)).size, cleanup.length, 'the child ran once per failed tick');
    for (const [tick, trigger, parent] of cleanup) {
      assert.equal(trigger, 'dependency');
      assert.equal(new Date(parent).getTime(), Number(tick), 'DCRON_PARENT_TICK is the parent tick');
      assert.equal(lines('shards').filter((l) => l.startsWith(`${tick} `)).length, 4, `tick ${tick} ran all four shards`);
    }
    assert.deepEqual(lines('never'), [], 'after= never follows a failed tick');

    const history = await daemon.call<RunRecord[]>('history', { job: 'split', limit: 400 });
    const shardsOfTick = new Map<number, number[]>();
    for (const r of history) shardsOfTick.set(r.tickMs, [...(shardsOfTick.get(r.tickMs) ?? []), r.shard!]);
    for (const [tick, shards] of shardsOfTick) assert.equal(new Set(shards).size, shards.length, `tick ${tick}: a shard recorded twice`);
    assert.ok(history.every((r) => r.shards === 4 && (r.status === 'ok') === (r.shard === 0 || r.shard === 2) || r.status === 'running'));
  } finally {
    await daemon.stop();
  }
});

test('a parent tick that ended while the daemon stopped: its child runs at the next start inside catchup, else it is recorded missed', { timeout: 60_000 }, async () => {
  const ws2 = new Workspace();
  try {
    ws2.writeCrontab(
      [
        '#dcron name=parent',
        `0 0 1 1 * echo started >> ${ws2.path('parent')}; sleep 1; echo done >> ${ws2.path('parent')}`,
        '#dcron name=with-catchup after=parent catchup=1h',
        `@after echo "$DCRON_TICK_MS $DCRON_TRIGGER" >> ${ws2.path('with-catchup')}`,
        '#dcron name=without after=parent',
        `@after echo ran >> ${ws2.path('without')}`,
        '',
      ].join('\n'),
    );
    const lines2 = (name: string) => linesIn(ws2, name);
    let daemon = await DaemonProcess.start(ws2);
    // The children's cursors start with the daemon: a manual tick in that same second would be older than them.
    await untilClock(Math.ceil(Date.now() / 1000) * 1000 + 50);
    await daemon.call('run', { job: 'parent' });
    await waitFor('the parent to start', () => lines2('parent').includes('started'));
    // Stopping: no new ticks, but the running parent is let finish (drain), and its end is counted.
    await daemon.stop();
    assert.deepEqual(lines2('parent'), ['started', 'done']);
    assert.deepEqual([lines2('with-catchup'), lines2('without')], [[], []], 'no child started by a stopping daemon');
    const endedMs = Date.now();
    await untilClock(endedMs + 6000); // past the late grace (5 s): what the next start finds is a missed child tick
    daemon = await DaemonProcess.start(ws2);
    try {
      const [line] = await waitFor('the child with catchup to run', () => lines2('with-catchup').length > 0 && lines2('with-catchup'));
      assert.equal(line.split(' ')[1], 'dependency');
      const missed = await waitFor('the child without catchup to be recorded missed', async () => (await daemon.call<RunRecord[]>('history', { job: 'without', limit: 10 })).find((r) => r.status === 'missed'));
      assert.equal(missed.trigger, 'dependency');
      assert.equal(String(missed.tickMs), line.split(' ')[0], 'both children are keyed by the same parent tick');
      assert.deepEqual(lines2('without'), []);
    } finally {
      await daemon.stop();
    }
  } finally {
    ws2.cleanup();
  }
});
