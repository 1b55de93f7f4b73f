import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { JobView, StatusView } from '../../src/daemon/control/api-types.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

const ws = new Workspace();
after(() => ws.cleanup());

const countLines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** Saves the way editors do: write a new file, rename it over the old one. */
function saveLikeAnEditor(text: string): void {
  writeFileSync(ws.crontab + '.swp', text);
  renameSync(ws.crontab + '.swp', ws.crontab);
}

test('a broken line added while the daemon runs is reported and every other job keeps running', async () => {
  const a = ws.path('a.ledger');
  const b = ws.path('b.ledger');
  const good = ['#dcron name=alpha', `* * * * * * echo "$DCRON_TICK_MS" >> ${a}`, '#dcron name=beta', `* * * * * * echo "$DCRON_TICK_MS" >> ${b}`];
  ws.writeCrontab(good.join('\n') + '\n');
  const daemon = await DaemonProcess.start(ws);
  try {
    await waitFor('both jobs to run', () => countLines(a) >= 1 && countLines(b) >= 1);

    // A new broken line, and beta's own line mangled: beta must keep its old definition.
    saveLikeAnEditor([good[0], good[1], '#dcron name=beta', `* * 32 * * echo broken >> ${b}`, `*/5 61 * * * echo never`, ''].join('\n'));
    const status = await waitFor('the reload to report the errors', async () => {
      const s = await daemon.call<StatusView>('status');
      return s.lastLoad && s.lastLoad.errors.length === 2 ? s : undefined;
    });
    assert.match(status.lastLoad!.errors[0], new RegExp(`^${ws.crontab}:4:\\d+: error: .*32`));
    assert.match(status.lastLoad!.errors[1], new RegExp(`^${ws.crontab}:5:\\d+: error: .*61`));
    assert.deepEqual(status.lastLoad!.retained, ['beta']);

    const before = { a: countLines(a), b: countLines(b) };
    await waitFor('both jobs to keep running after the bad edit', () => countLines(a) >= before.a + 2 && countLines(b) >= before.b + 2);

    const shown = await cli(['status'], { dataDir: ws.dataDir });
    assert.match(shown.stdout, /2 error\(s\)/);
    assert.ok(shown.stdout.includes(`${ws.crontab}:5:`), shown.stdout);
    const ls = await daemon.call<JobView[]>('ls');
    assert.deepEqual(ls.map((j) => [j.name, j.retained]), [['alpha', false], ['beta', true]]);

    // Fixing the file applies it: beta removed cleanly now that there is no error.
    saveLikeAnEditor(good.slice(0, 2).join('\n') + '\n');
    await waitFor('the clean file to remove beta', async () => (await daemon.call<JobView[]>('ls')).length === 1);
    const validate = await cli(['validate', ws.crontab]);
    assert.equal(validate.code, 0, validate.stderr);
  } finally {
    await daemon.stop();
  }
});

test('SIGHUP reloads the crontab', async () => {
  ws.writeCrontab('#dcron name=one\n0 0 1 1 * true\n');
  const daemon = await DaemonProcess.start(ws, ['--log-level', 'debug']);
  try {
    // Write in place with the watcher racing: SIGHUP must apply it regardless.
    writeFileSync(ws.crontab, '#dcron name=one\n0 0 1 1 * true\n#dcron name=two\n0 0 1 1 * true\n');
    process.kill(daemon.pid, 'SIGHUP');
    await waitFor('job two to appear', async () => (await daemon.call<JobView[]>('ls')).some((j) => j.name === 'two'));
  } finally {
    await daemon.stop();
  }
});
