import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DCRON_BIN, Workspace, cli } from '../helpers/daemon-process.js';

const ws = new Workspace();
after(() => ws.cleanup());

test('validate reports file:line:col errors and exits 1', async () => {
  ws.writeCrontab('# ok\n*/5 * * * * echo fine\n0 25 * * * echo bad hour\n#dcron nmae=x\n* * * * * true\n');
  const r = await cli(['validate', ws.crontab]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${ws.crontab}:3:3: error: .*25`));
  assert.match(r.stderr, new RegExp(`${ws.crontab}:4:\\d+: error: .*nmae`));
  assert.match(r.stderr, /1 job\(s\), 2 error\(s\)/);
});

test('validate accepts crontab.example and warns about a schedule that never fires', async () => {
  const example = new URL('../../../crontab.example', import.meta.url).pathname;
  const ok = await cli(['validate', example]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /0 error\(s\)/);
  ws.writeCrontab('0 0 30 2 * echo never');
  const never = await cli(['validate', ws.crontab]);
  assert.equal(never.code, 0);
  assert.match(never.stderr, /:1:1: warning: .*never fire/);
});

test('next prints ticks with offsets, follows DST and speaks JSON', async () => {
  const r = await cli(['next', '30 2 * * *', '--tz', 'Europe/Berlin', '--from', '2026-03-28T00:00:00Z', '-n', '3', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { next: ['2026-03-28T02:30:00+01:00', '2026-03-29T03:00:00+02:00', '2026-03-30T02:30:00+02:00'] });
  const never = await cli(['next', '0 0 30 2 *', '--json']);
  assert.deepEqual(JSON.parse(never.stdout), { next: [] });
  const bad = await cli(['next', '0 0 * * 8']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /\^/);
});

test('exit codes: usage 2, daemon unreachable 3', async () => {
  const usage = await cli(['history', '--limit']);
  assert.equal(usage.code, 2);
  const unknown = await cli(['frobnicate']);
  assert.equal(unknown.code, 2);
  const badTz = await cli(['next', '* * * * *', '--tz', 'Mars/Olympus']);
  assert.equal(badTz.code, 2);
  const unreachable = await cli(['ls'], { dataDir: ws.path('no-daemon-here') });
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.stderr, /cannot reach the dcron daemon/);
});

test('every command has --help with examples', async () => {
  for (const cmd of ['daemon', 'ls', 'run', 'kill', 'logs', 'history', 'validate', 'next', 'status']) {
    const r = await cli([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, /Examples:\n {2}\$ dcron/, `${cmd} --help shows examples`);
    assert.match(r.stdout, /--data-dir/, `${cmd} takes --data-dir`);
  }
});

test('a reader that stops early (dcron --help | head) ends the command quietly, not with an EPIPE stack', async () => {
  const child = spawn(process.execPath, [DCRON_BIN, 'backfill', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Like `| head` that has read all it wants: the pipe is closed before the CLI gets to write.
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  assert.equal(code, 0, stderr);
});
