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

    const history = await daemon.call<RunRecord[]>('history', { job: 'split', limit: 400 });
    const cleanup = lines('cleanup').map((l) => l.split(' '));
    assert.equal(new Set(cleanup.map(([t]) => t)).size, cleanup.length, 'the child ran once per failed tick');
    for (const [tick, trigger, parent] of cleanup) {
      assert.equal(trigger, 'dependency');
      assert.equal(new Date(parent).getTime(), Number(tick), 'DCRON_PARENT_TICK is the parent tick');
      // On a loaded machine a shard may be skipped (overlap=skip, its run of the tick before still going).
      const ran = lines('shards').filter((l) => l.startsWith(`${tick} `)).map((l) => Number(l.split(' ')[1]));
      assert.ok(ran.includes(1) || ran.includes(3), `tick ${tick}: the child follows a failed shard (ran: ${ran.join(',')})`);
    }
    assert.deepEqual(lines('never'), [], 'after= never follows a failed tick');

    const shardsOfTick = new Map<number, number[]>();
    for (const r of history) shardsOfTick.set(r.tickMs, [...(shardsOfTick.get(r.tickMs) ?? []), r.shard!]);
    for (const [tick, shards] of shardsOfTick) assert.equal(new Set(shards).size, shards.length, `tick ${tick}: a shard recorded twice`);
    assert.ok(history.every((r) => r.shards === 4 && ((r.status === 'ok') === (r.shard === 0 || r.shard === 2) || r.status === 'running' || r.status === 'skipped')));
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

test('a shard skipped by overlap=skip ends its tick incomplete: neither child runs for it, nothing pages, and the next full tick has its child', { timeout: 60_000 }, async () => {
  const w = new Workspace();
  try {
    // Shard 1 takes 1.5 s at every even second: the tick after it finds it still running.
    w.writeCrontab(
      [
        `#dcron name=uneven shards=2 on-failure="echo $DCRON_TICK_MS >> ${w.path('alerts')}"`,
        `* * * * * * echo "$DCRON_TICK_MS $DCRON_SHARD" >> ${w.path('shards')}; if [ $DCRON_SHARD = 1 ] && [ $(( DCRON_TICK_MS / 1000 \\% 2 )) = 0 ]; then sleep 1.5; fi`,
        '#dcron name=then after=uneven',
        `@after echo "$DCRON_TICK_MS" >> ${w.path('then')}`,
        '#dcron name=otherwise after-failure=uneven',
        `@after echo "$DCRON_TICK_MS" >> ${w.path('otherwise')}`,
        '',
      ].join('\n'),
    );
    const daemon = await DaemonProcess.start(w);
    try {
      const skippedTicks = async () => (await daemon.call<RunRecord[]>('history', { job: 'uneven', limit: 400 })).filter((r) => r.status === 'skipped' && r.shard === 1).map((r) => r.tickMs);
      await waitFor('three ticks with a skipped shard, and three children', async () => (await skippedTicks()).length >= 3 && linesIn(w, 'then').length >= 3, 30_000, 100);
      const skipped = await skippedTicks();
      const children = linesIn(w, 'then').map(Number);
      assert.equal(new Set(children).size, children.length, 'one child per tick');
      for (const t of skipped) assert.ok(!children.includes(t), `tick ${t} had shard 1 skipped, yet its after= child ran`);
      for (const t of children) assert.equal(linesIn(w, 'shards').filter((l) => l.startsWith(`${t} `)).length, 2, `the child of tick ${t} ran after both shards`);
      assert.deepEqual(linesIn(w, 'otherwise'), [], 'a skipped shard is no failure: after-failure= does not run');
      assert.deepEqual(linesIn(w, 'alerts'), [], 'and nothing pages');
      assert.match(daemon.stderr, /"msg":"tick ended incomplete"/);
    } finally {
      await daemon.stop();
    }
  } finally {
    w.cleanup();
  }
});
