import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { buildProgram } from '../../src/cli/main.js';
import { cli, Workspace } from '../helpers/daemon-process.js';

test('a bad config file: exit 2 with file:line: key', async () => {
  const ws = new Workspace();
  try {
    const config = ws.path('config');
    ws.writeCrontab('* * * * * true\n');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(config, `crontab = "${ws.crontab}"\n# comment\ndrain-grace = "forever"\n`);
    const r = await cli(['daemon', '--config', config], { dataDir: ws.dataDir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: drain-grace: 'forever' is not a duration`));
    const missing = await cli(['daemon', '--config', ws.path('nope')], { dataDir: ws.dataDir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file/);
  } finally {
    ws.cleanup();
  }
});

test('dcron --version prints the version', async () => {
  const r = await cli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
});

test('completion scripts mention every command; bash -n accepts the bash one', async () => {
  const commands = buildProgram().commands.filter((c) => c.name() !== 'complete-jobs').map((c) => c.name());
  for (const shell of ['bash', 'zsh']) {
    const r = await cli(['completion', shell]);
    assert.equal(r.code, 0, r.stderr);
    for (const name of commands) assert.match(r.stdout, new RegExp(`\\b${name}\\b`), `${shell}: ${name}`);
    assert.match(r.stdout, /complete-jobs/, 'job names come from the daemon');
  }
  const bash = await cli(['completion', 'bash']);
  const check = spawnSync('bash', ['-n'], { input: bash.stdout, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.equal((await cli(['completion', 'fish'])).code, 2);
});

test('complete-jobs is quiet and quick when no daemon answers', async () => {
  const ws = new Workspace();
  try {
    const started = Date.now();
    const r = await cli(['complete-jobs'], { dataDir: ws.dataDir });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.ok(Date.now() - started < 5000);
  } finally {
    ws.cleanup();
  }
});
