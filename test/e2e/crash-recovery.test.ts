import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DaemonProcess, Workspace, cli, isAlive, killGroup } from '../helpers/daemon-process.js';
import { untilClock, waitFor } from '../helpers/wait.js';

const ws = new Workspace();
const orphans: number[] = [];
after(() => {
  for (const p of orphans) killGroup(p);
  ws.cleanup();
});

const ledger = (name: string) =>
  existsSync(ws.path(name))
    ? readFileSync(ws.path(name), 'utf8').split('\n').filter(Boolean).map((l) => ({ tickMs: Number(l.split(' ')[0]), trigger: l.split(' ')[1] }))
    : [];

test('after kill -9 and a restart, the interrupted run is lost and missed ticks get catchup or a missed record', async () => {
  const record = (file: string) => `echo "$DCRON_TICK_MS $DCRON_TRIGGER" >> ${ws.path(file)}`;
  ws.writeCrontab(
    [
      '#dcron name=long',
      `0 0 1 1 * echo $$ > ${ws.path('long.pid')}; sleep 300`,
      '#dcron name=with-catchup catchup=1m',
      `* * * * * * ${record('catchup.ledger')}`,
      '#dcron name=no-catchup',
      `* * * * * * ${record('plain.ledger')}`,
      '',
    ].join('\n'),
  );
  let daemon = await DaemonProcess.start(ws);
  assert.equal((await cli(['run', 'long'], { dataDir: ws.dataDir })).code, 0);
  const longPid = await waitFor('the long job to start', () => existsSync(ws.path('long.pid')) && Number(readFileSync(ws.path('long.pid'), 'utf8')));
  orphans.push(longPid);
  await waitFor('a few scheduled ticks', () => ledger('catchup.ledger').length >= 2 && ledger('plain.ledger').length >= 2);

  daemon.child.kill('SIGKILL');
  await daemon.exited;
  const killedMs = Date.now();
  // The daemon's job guard sees its pipe close and kills the job's group: no run outlives its daemon.
  await waitFor('the job guard to kill the orphaned job', () => !isAlive(longPid), 5000);
  await untilClock(killedMs + 3500); // several ticks pass with no daemon
  const restartMs = Date.now();
  daemon = await DaemonProcess.start(ws);
  const answeringMs = Date.now();
  try {
    const catchup = await waitFor('the catch-up run', () => ledger('catchup.ledger').find((l) => l.trigger === 'catchup'));
    // The daemon was down from the kill until it started, somewhere before it answered.
    assert.ok(catchup.tickMs > killedMs - 1000 && catchup.tickMs <= answeringMs, `catch-up tick ${catchup.tickMs} is a tick missed while down (${killedMs}..${answeringMs})`);

    const [long] = await daemon.call<RunRecord[]>('history', { job: 'long', limit: 1 });
    assert.equal(long.status, 'lost');
    assert.match(long.message ?? '', /daemon stopped/);

    await waitFor('scheduled ticks after the restart', () => ledger('plain.ledger').some((l) => l.tickMs > restartMs));
    for (const [job, file] of [['with-catchup', 'catchup.ledger'], ['no-catchup', 'plain.ledger']] as const) {
      const ran = ledger(file).map((l) => l.tickMs);
      assert.equal(new Set(ran).size, ran.length, `${job}: no tick ran twice`);
      const history = await daemon.call<RunRecord[]>('history', { job, limit: 1000 });
      const missed = history.filter((r) => r.status === 'missed').map((r) => r.tickMs);
      const lost = history.filter((r) => r.status === 'lost').map((r) => r.tickMs);
      assert.ok(missed.length >= 2, `${job}: ticks missed while down are recorded (${missed.length})`);
      assert.ok(missed.every((t) => !ran.includes(t)), `${job}: a missed tick did not also run`);
      // Every second from the first tick to the last is accounted for: ran, missed, or lost in flight.
      const accounted = new Set([...ran, ...missed, ...lost]);
      const first = Math.min(...ran);
      const last = Math.max(...ran);
      for (let t = first; t <= last; t += 1000) assert.ok(accounted.has(t), `${job}: tick ${new Date(t).toISOString()} neither ran nor was recorded`);
    }
    assert.ok(!ledger('plain.ledger').some((l) => l.trigger === 'catchup'), 'no catch-up without a catchup window');
  } finally {
    await daemon.stop();
  }
});
