/**
 * Who may talk to a daemon and read what it keeps. The control socket is the
 * access control (whoever connects can run and kill jobs) and the database
 * holds every job's output: both must stay the daemon user's, even when an
 * admin made the data directory readable by everyone. Tested by acting as
 * another user (nobody), which needs root.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { socketPath } from '../../src/daemon/paths.js';
import { DCRON_BIN, DaemonProcess, Workspace } from '../helpers/daemon-process.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const workspaces: Workspace[] = [];
after(() => {
  for (const ws of workspaces) ws.cleanup();
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node args` as nobody, from `/`, with nothing of our environment but PATH. */
function asNobody(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { uid: NOBODY, gid: NOBODY, cwd: '/', env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What nobody gets when connecting to the socket and reading each file of the data dir: an errno code each, or 'ok'. */
async function probeAsNobody(dataDir: string): Promise<Record<string, string>> {
  const files = readdirSync(dataDir).filter((f) => f !== 'dcron.sock');
  const script = `
    const net = require('node:net'), fs = require('node:fs'), path = require('node:path');
    const [dir, files] = [process.argv[1], JSON.parse(process.argv[2])];
    const out = {};
    for (const f of files) { try { fs.readFileSync(path.join(dir, f)); out[f] = 'ok'; } catch (e) { out[f] = e.code; } }
    const s = net.connect(path.join(dir, 'dcron.sock'));
    s.on('connect', () => { out.socket = 'ok'; s.destroy(); console.log(JSON.stringify(out)); });
    s.on('error', (e) => { out.socket = e.code; console.log(JSON.stringify(out)); });`;
  const r = await asNobody(['-e', script, dataDir, JSON.stringify(files)]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

async function daemonIn(ws: Workspace): Promise<DaemonProcess> {
  ws.writeCrontab('#dcron name=secret\n0 0 1 1 * echo classified\n');
  const daemon = await DaemonProcess.start(ws);
  await daemon.call('run', { job: 'secret' });
  return daemon;
}

const mode = (path: string) => statSync(path).mode & 0o777;

test('a data dir the daemon creates is 0700, its socket 0600, its database files the owner\'s only', { skip: !asRoot && 'needs root to act as nobody' }, async () => {
  const ws = new Workspace();
  workspaces.push(ws);
  const daemon = await daemonIn(ws);
  try {
    assert.equal(mode(ws.dataDir), 0o700);
    assert.equal(mode(socketPath(ws.dataDir)), 0o600);
    for (const f of readdirSync(ws.dataDir)) assert.equal(mode(join(ws.dataDir, f)) & 0o077, 0, `${f} is ${mode(join(ws.dataDir, f)).toString(8)}`);
    // The temp dir is 0700 too, so nobody is already stopped on the way.
    const probe = await probeAsNobody(ws.dataDir);
    for (const [what, result] of Object.entries(probe)) assert.equal(result, 'EACCES', what);
  } finally {
    await daemon.stop();
  }
});

/** A workspace whose data dir an admin made world-readable, with an (empty, so valid) database anyone may read, as an older dcron left it. */
async function worldReadableDaemon(): Promise<{ ws: Workspace; daemon: DaemonProcess }> {
  const ws = new Workspace();
  workspaces.push(ws);
  chmodSync(ws.dir, 0o755);
  mkdirSync(ws.dataDir, { mode: 0o755 });
  chmodSync(ws.dataDir, 0o755);
  writeFileSync(join(ws.dataDir, 'dcron.db'), '', { mode: 0o644 });
  chmodSync(join(ws.dataDir, 'dcron.db'), 0o644);
  return { ws, daemon: await daemonIn(ws) };
}

/** Running dcron as nobody needs the checkout readable by nobody; a clone under a 0700 directory (mktemp -d) is not. */
const cliReachable = asRoot && spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(DCRON_BIN)}, 4)`], { uid: NOBODY, gid: NOBODY, cwd: '/' }).status === 0;

test('with a data dir an admin made world-readable, the socket and the database still refuse other users', { skip: !asRoot && 'needs root to act as nobody' }, async () => {
  const { ws, daemon } = await worldReadableDaemon();
  try {
    const probe = await probeAsNobody(ws.dataDir);
    assert.equal(probe.socket, 'EACCES', 'connecting needs write permission on the socket, which only its owner has');
    for (const f of ['dcron.db', 'dcron.db-wal']) assert.equal(probe[f], 'EACCES', `${f}: the run log holds every job's output`);
    for (const [what, result] of Object.entries(probe)) assert.equal(result, 'EACCES', what);
  } finally {
    await daemon.stop();
  }
});

test('the CLI run as another user gets a clear refusal and the "unreachable" exit code, not a stack trace', { skip: !asRoot ? 'needs root to act as nobody' : !cliReachable && 'nobody cannot read this checkout (it sits under a 0700 directory)' }, async () => {
  const { ws, daemon } = await worldReadableDaemon();
  try {
    const ls = await asNobody([DCRON_BIN, 'ls', '--data-dir', ws.dataDir]);
    assert.equal(ls.code, 3, ls.stderr);
    assert.match(ls.stderr, /permission|EACCES/i);
    assert.doesNotMatch(ls.stderr, /^\s+at /m);
  } finally {
    await daemon.stop();
  }
});
