import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { DCRON_BIN, DaemonProcess, Workspace, cli, isAlive, killGroup } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

const ws = new Workspace();
const pids: number[] = [];
after(() => {
  for (const p of pids) killGroup(p);
  ws.cleanup();
});

const readPid = (name: string) => (existsSync(ws.path(name)) ? Number(readFileSync(ws.path(name), 'utf8').trim()) || undefined : undefined);

test('dcron kill stops a running job and the background child it forked', async () => {
  ws.writeCrontab(['#dcron name=sleeper', `0 0 1 1 * sleep 300 & echo $! > ${ws.path('child.pid')}; echo $$ > ${ws.path('shell.pid')}; wait`, ''].join('\n'));
  const daemon = await DaemonProcess.start(ws);
  try {
    const started = await cli(['run', 'sleeper'], { dataDir: ws.dataDir });
    assert.equal(started.code, 0, started.stderr);
    const child = await waitFor('the job to write its pids', () => readPid('child.pid'));
    const shell = await waitFor('the job to write its pids', () => readPid('shell.pid'));
    pids.push(shell);
    assert.ok(isAlive(child) && isAlive(shell));

    const killed = await cli(['kill', 'sleeper'], { dataDir: ws.dataDir });
    assert.equal(killed.code, 0, killed.stderr);
    assert.match(killed.stdout, /killed run [0-9A-Z]{26} of sleeper/);
    await waitFor('the shell and its background child to be gone', () => !isAlive(child) && !isAlive(shell));

    const [run] = await waitFor('the run to be recorded as killed', async () => {
      const h = await daemon.call<RunRecord[]>('history', { job: 'sleeper' });
      return h[0]?.status === 'killed' ? h : undefined;
    });
    assert.equal(run.signal, 'SIGTERM');

    const again = await cli(['kill', 'sleeper'], { dataDir: ws.dataDir });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /sleeper has no running run/);
  } finally {
    await daemon.stop();
  }
});

test('dcron logs -f streams output while the run is still going', async () => {
  const gate = ws.path('gate');
  ws.writeCrontab(['#dcron name=talker', `0 0 1 1 * echo "first line"; while [ ! -f ${gate} ]; do sleep 0.05; done; echo "second line" >&2`, ''].join('\n'));
  const daemon = await DaemonProcess.start(ws);
  try {
    const started = await cli(['run', 'talker'], { dataDir: ws.dataDir });
    const runId = /run ([0-9A-Z]{26})/.exec(started.stdout)![1];
    const follower = spawn(process.execPath, [DCRON_BIN, 'logs', 'talker', '-f', '--run', runId], { env: { ...process.env, DCRON_DATA_DIR: ws.dataDir } });
    let out = '';
    let err = '';
    follower.stdout.on('data', (d) => (out += d));
    follower.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));

    await waitFor('the first line to stream', () => out.includes('first line'));
    const [live] = await daemon.call<RunRecord[]>('history', { job: 'talker' });
    assert.equal(live.status, 'running', 'the line arrived while the run was still running');
    assert.ok(!out.includes('second line'));

    writeFileSync(gate, '');
    assert.equal(await exited, 0, err);
    assert.equal(out, 'first line\nsecond line\n');
    assert.match(err, /ok \(exit 0\)/);

    const replay = await cli(['logs', 'talker'], { dataDir: ws.dataDir });
    assert.equal(replay.stdout, 'first line\nsecond line\n', 'the stored log matches what streamed');
  } finally {
    await daemon.stop();
  }
});
