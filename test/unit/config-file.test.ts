import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { applyConfig, configKeys, loadConfig, parseConfig } from '../../src/cli/config-file.js';

/** The real daemon command, with its action replaced so parsing only collects options. */
function daemonCommand(): { program: Command; daemon: Command } {
  const program = buildProgram();
  const daemon = program.commands.find((c) => c.name() === 'daemon')!;
  daemon.action(() => {});
  return { program, daemon };
}

/** Parses `dcron daemon ...args` with exactly `env` as the DCRON_* environment, then applies `file`. */
async function resolveOptions(args: string[], env: Record<string, string>, fileText: string): Promise<Record<string, unknown>> {
  const { program, daemon } = daemonCommand();
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('DCRON_')) delete process.env[k];
  Object.assign(process.env, env);
  try {
    await program.parseAsync(['node', 'dcron', 'daemon', ...args]);
    applyConfig(daemon, parseConfig(fileText, '/etc/dcron/config', configKeys(daemon)), process.env);
    return daemon.opts();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const keys = () => configKeys(daemonCommand().daemon);

test('every daemon flag is a config key, except --config itself', () => {
  const names = keys().map((k) => k.key);
  for (const k of ['crontab', 'data-dir', 'node-id', 'log-level', 'etcd', 'cluster', 'label', 'etcd-ca', 'etcd-cert', 'etcd-key', 'etcd-user',
    'peer-listen', 'peer-advertise', 'peer-secret-file', 'lease-ttl', 'claim-handicap', 'claim-lead', 'drain-grace', 'keep-runs', 'max-log-size']) {
    assert.ok(names.includes(k), k);
  }
  assert.ok(!names.includes('config'));
  assert.ok(!names.includes('help'));
});

test('parses TOML values: strings, numbers as strings, a list for label, comments', () => {
  const text = [
    '# dcron config',
    'node-id = "web-1"   # this host',
    'keep-runs = 500',
    "drain-grace = '1m'",
    'label = ["role=web", "zone=a"]',
    '',
    'crontab = "crontab"',
  ].join('\n');
  const file = parseConfig(text, '/etc/dcron/config', keys());
  const byKey = Object.fromEntries(file.entries.map((e) => [e.key, e]));
  assert.equal(byKey['node-id'].value, 'web-1');
  assert.equal(byKey['node-id'].line, 2);
  assert.equal(byKey['keep-runs'].value, '500');
  assert.equal(byKey['drain-grace'].value, '1m');
  assert.deepEqual(byKey.label.value, ['role=web', 'zone=a']);
  assert.equal(byKey.crontab.value, '/etc/dcron/crontab', 'relative paths are taken from the file\'s directory');
  assert.equal(byKey.crontab.line, 7);
  assert.deepEqual(parseConfig('label = "role=web"', '/c', keys()).entries[0].value, ['role=web'], 'one label may be a plain string');
});

test('errors name the file, the line and the key', () => {
  const cases: Array<[string, RegExp]> = [
    ['node-id = "a"\n\nnode_id2 = "b"', /^\/etc\/dcron\/config:3: node_id2: unknown key/],
    ['node-id = "a"\nnode_id = "b"', /^\/etc\/dcron\/config:2: node_id: unknown key \(did you mean 'node-id'\?\)/],
    ['log-level = "loud"', /^\/etc\/dcron\/config:1: log-level: 'loud' is not one of debug, info, warn, error/],
    ['\n\ndrain-grace = "soon"', /^\/etc\/dcron\/config:3: drain-grace: 'soon' is not a duration/],
    ['lease-ttl = "1500ms"', /:1: lease-ttl: '1500ms': whole seconds, at least 2s/],
    ['keep-runs = 0', /:1: keep-runs: '0' is not a positive whole number/],
    ['max-log-size = "lots"', /:1: max-log-size: 'lots' is not a size/],
    ['label = ["role"]', /:1: label: 'role': expected key=value/],
    ['etcd = "10.0.0.5:2379"', /:1: etcd: '10.0.0.5:2379' is not an endpoint/],
    ['node-id = true', /:1: node-id: expected a string, got boolean true/],
    ['node-id = ["a", "b"]', /:1: node-id: expected one value, got a list/],
    ['# top\n[daemon]\nnode-id = "a"', /:2: \[daemon\]: sections are not supported/],
    ['node-id = "a"\ncluster = ', /^\/etc\/dcron\/config:2:\d+: .*TOML/],
    ['node-id = "a"\nnode-id = "b"', /^\/etc\/dcron\/config:2:\d+: /],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseConfig(text, '/etc/dcron/config', keys()), (err: Error) => {
      assert.match(err.message, expected, JSON.stringify(text));
      assert.equal(err.constructor.name, 'UsageError', 'a bad config is a usage error: exit 2');
      return true;
    });
  }
});

test('precedence: flag beats env beats file beats default', async () => {
  const file = 'node-id = "from-file"\ncluster = "file-cluster"\ndrain-grace = "2m"\nlabel = ["role=file"]\ndata-dir = "/srv/file"';
  // [args, env, expected node-id, expected cluster]
  const table: Array<[string[], Record<string, string>, string | undefined, string]> = [
    [['--node-id', 'from-flag', '--cluster', 'flag-cluster'], { DCRON_NODE_ID: 'from-env', DCRON_CLUSTER: 'env-cluster' }, 'from-flag', 'flag-cluster'],
    [[], { DCRON_NODE_ID: 'from-env', DCRON_CLUSTER: 'env-cluster' }, 'from-env', 'env-cluster'],
    [[], {}, 'from-file', 'file-cluster'],
  ];
  for (const [args, env, nodeId, cluster] of table) {
    const opts = await resolveOptions(args, env, file);
    assert.equal(opts.nodeId, nodeId, `${args.join(' ')} ${JSON.stringify(env)}`);
    assert.equal(opts.cluster, cluster);
  }
  const none = await resolveOptions([], {}, '');
  assert.equal(none.nodeId, undefined, 'default: the hostname, filled in later');
  assert.equal(none.cluster, 'default');
  assert.equal(none.drainGrace, '30s');
  assert.deepEqual(none.label, []);

  const fromFile = await resolveOptions([], {}, file);
  assert.equal(fromFile.drainGrace, '2m');
  assert.deepEqual(fromFile.label, ['role=file']);
  assert.equal(fromFile.dataDir, '/srv/file');
  const flags = await resolveOptions(['--drain-grace', '5s', '--label', 'role=cli', '--data-dir', '/srv/cli'], {}, file);
  assert.equal(flags.drainGrace, '5s');
  assert.deepEqual(flags.label, ['role=cli'], 'flag labels replace the file\'s');
  assert.equal(flags.dataDir, '/srv/cli');
  const envDataDir = await resolveOptions([], { DCRON_DATA_DIR: '/srv/env' }, file);
  assert.equal(envDataDir.dataDir, undefined, 'DCRON_DATA_DIR (read where the default is computed) beats the file');
});

test('loadConfig: the default path is optional, --config must exist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcron-config-'));
  try {
    const { daemon } = daemonCommand();
    assert.equal(loadConfig(daemon, undefined, join(dir, 'absent'), {}), null);
    assert.throws(() => loadConfig(daemon, join(dir, 'absent'), join(dir, 'absent'), {}), /config file .*absent: no such file/);
    writeFileSync(join(dir, 'config'), 'node-id = "n9"\n');
    assert.equal(loadConfig(daemon, undefined, join(dir, 'config'), {}), join(dir, 'config'));
    assert.equal(daemon.opts().nodeId, 'n9');
    assert.equal(daemon.getOptionValueSource('nodeId'), 'config');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
