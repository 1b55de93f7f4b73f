import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

/** One host: a sharded job's tick fails and alerts once, not once per shard; after-failure follows it once per tick. */
const ws = new Workspace();
after(() => ws.cleanup());

const lines = (name: string) => (existsSync(ws.path(name)) ? readFileSync(ws.path(name), 'utf8').split('\n').filter(Boolean) : []);

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
