import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { configKeys, parseConfig } from '../../src/cli/config-file.js';
import { DAEMON_SETTINGS, InvalidDaemonSettingError, settingsFromFlags, withDaemonDefaults } from '../../src/daemon/config/daemon-config.js';
import { flagProblem } from '../../src/daemon/config/daemon-flags.js';

const defaults = Object.fromEntries(DAEMON_SETTINGS.map((s) => [s.field, s.default]));

function daemonCommand(): Command {
  return buildProgram().commands.find((c) => c.name() === 'daemon')!;
}

test('withDaemonDefaults fills in every setting the caller left out', () => {
  const resolved = withDaemonDefaults({});
  assert.deepEqual(resolved, defaults);
  assert.deepEqual(Object.keys(resolved).sort(), ['claimLeadMs', 'drainGraceMs', 'handicapMs', 'keepRunsPerJob', 'killGraceMs', 'lateGraceMs', 'leaseTtlSeconds', 'maxLogBytes', 'slots']);
  assert.equal(resolved.claimLeadMs, 100, 'the CLI\'s claim lead, not the Daemon class\'s old 0');
});

test('withDaemonDefaults keeps what it is given, 0 included, and refuses what is out of bounds', () => {
  assert.deepEqual(withDaemonDefaults({ claimLeadMs: 0, drainGraceMs: 0 }), { ...defaults, claimLeadMs: 0, drainGraceMs: 0 });
  const refused: Array<Partial<Record<keyof typeof defaults, number>>> = [{ claimLeadMs: 5001 }, { keepRunsPerJob: 0 }, { leaseTtlSeconds: 1 }, { killGraceMs: -1 }, { lateGraceMs: 0.5 }, { drainGraceMs: 2 ** 31 }];
  for (const partial of refused) {
    const [field] = Object.keys(partial);
    assert.throws(() => withDaemonDefaults(partial), (err: unknown) => err instanceof InvalidDaemonSettingError && err.setting === field, JSON.stringify(partial));
  }
});

test('settingsFromFlags reads flag text; a bad value names the flag', () => {
  const text: Record<string, string> = { 'claim-lead': '250ms', 'keep-runs': '7', 'max-log-size': '2MiB', 'lease-ttl': '4s' };
  assert.deepEqual(settingsFromFlags((flag) => text[flag]), { ...defaults, claimLeadMs: 250, keepRunsPerJob: 7, maxLogBytes: 2 * 1024 ** 2, leaseTtlSeconds: 4 });
  const bad: Array<[string, string, RegExp]> = [
    ['claim-lead', '6s', /^--claim-lead: '6s': a duration up to 5s$/],
    ['drain-grace', 'soon', /^--drain-grace: 'soon' is not a duration/],
    ['lease-ttl', '1500ms', /^--lease-ttl: '1500ms': whole seconds, at least 2s$/],
    ['keep-runs', '0', /^--keep-runs: '0' is not a positive whole number$/],
    ['max-log-size', 'lots', /^--max-log-size: 'lots' is not a size/],
  ];
  for (const [flag, value, message] of bad) {
    assert.throws(() => settingsFromFlags((f) => (f === flag ? value : undefined)), (err: unknown) => err instanceof InvalidDaemonSettingError && message.test(err.message), `${flag} ${value}`);
  }
});

test('the daemon command\'s flag defaults read as the table\'s defaults', () => {
  const cmd = daemonCommand();
  for (const setting of DAEMON_SETTINGS) {
    if (setting.flag === null) continue;
    const option = cmd.options.find((o) => o.long === `--${setting.flag}`);
    assert.ok(option, `--${setting.flag} is a daemon flag`);
    const read = setting.kind.read(String(option.defaultValue));
    assert.ok(read.ok && read.value === setting.default, `--${setting.flag} defaults to '${option.defaultValue}', the table to ${setting.default}`);
  }
});

test('the config file refuses what the command line refuses, in the same words', () => {
  const keys = configKeys(daemonCommand());
  const values: Array<[string, string]> = [['claim-lead', '6s'], ['claim-handicap', 'x'], ['drain-grace', '30s'], ['label', 'role'], ['etcd', 'http://a:1,10.0.0.5:2379'], ['node-id', '../x'], ['cluster', 'a b'], ['alert-webhook', 'file:///x'], ['metrics', '9464'], ['peer-listen', '0.0.0.0']];
  for (const [key, value] of values) {
    const problem = flagProblem(key, value);
    const toml = `${key} = ${JSON.stringify(value)}`;
    if (problem === null) assert.doesNotThrow(() => parseConfig(toml, '/c', keys), key);
    else assert.throws(() => parseConfig(toml, '/c', keys), (err: Error) => err.message === `/c:1: ${key}: ${problem}`, key);
  }
  assert.equal(flagProblem('crontab', 'any text'), null, 'free-text flags have no syntax');
});

test('--slots takes a whole number of slots or unlimited (the default); 0 and text are refused with the flag named', () => {
  assert.equal(settingsFromFlags((f) => (f === 'slots' ? '4' : undefined)).slots, 4);
  assert.equal(settingsFromFlags((f) => (f === 'slots' ? 'unlimited' : undefined)).slots, 0);
  assert.equal(withDaemonDefaults({}).slots, 0);
  for (const bad of ['0', '-1', 'many', '1.5']) {
    assert.throws(() => settingsFromFlags((f) => (f === 'slots' ? bad : undefined)), (err: unknown) => err instanceof InvalidDaemonSettingError && err.setting === '--slots' && err.message.includes(`'${bad}'`), bad);
  }
});
