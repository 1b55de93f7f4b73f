import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, silentLogger } from '../../src/daemon/log.js';

function capture(opts: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const log = createLogger({ pretty: false, now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 678), ...opts, write: (l) => lines.push(l) });
  return { log, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('one JSON object per line: time, level label, msg and the fields', () => {
  const { log, lines, json } = capture();
  log.info('run finished', { job: 'backup', tick: 1767323045000, run: '01ABC', node: 'web-1', exitCode: 0 });
  assert.equal(lines.length, 1, 'written synchronously, one line');
  assert.ok(!lines[0].includes('\n'));
  assert.deepEqual(json()[0], { time: '2026-01-02T03:04:05.678Z', level: 'info', msg: 'run finished', job: 'backup', tick: 1767323045000, run: '01ABC', node: 'web-1', exitCode: 0 });
  assert.ok(!('pid' in json()[0]) && !('hostname' in json()[0]));
});

test('errors in any field are serialised with type, message and stack', () => {
  const { log, json } = capture();
  class ClaimError extends Error {
    override name = 'ClaimError';
  }
  log.error('claim failed', { job: 'x', err: new ClaimError('etcd unreachable'), cause: new TypeError('bad') });
  const line = json()[0] as { level: string; err: Record<string, unknown>; cause: Record<string, unknown> };
  assert.equal(line.level, 'error');
  assert.equal(line.err.type, 'ClaimError');
  assert.equal(line.err.message, 'etcd unreachable');
  assert.match(String(line.err.stack), /ClaimError: etcd unreachable\n\s+at /);
  assert.equal(line.cause.type, 'TypeError');
  assert.equal(line.cause.message, 'bad');
});

test('level filtering: info by default, --log-level picks the least severe', () => {
  const def = capture();
  def.log.debug('hidden');
  def.log.info('shown');
  def.log.warn('shown too');
  assert.deepEqual(def.json().map((l) => [l.level, l.msg]), [['info', 'shown'], ['warn', 'shown too']]);

  const warn = capture({ level: 'warn' });
  warn.log.info('no');
  warn.log.warn('yes');
  warn.log.error('yes');
  assert.deepEqual(warn.json().map((l) => l.level), ['warn', 'error']);

  const debug = capture({ level: 'debug' });
  debug.log.debug('tick not claimed', { job: 'a' });
  assert.deepEqual(debug.json().map((l) => [l.level, l.job]), [['debug', 'a']]);
});

test('child loggers add their fields to every line; a call\'s field wins, never written twice', () => {
  const { log, lines, json } = capture();
  const job = log.child({ job: 'report', node: 'n1' });
  const run = job.child({ run: 'r1', tick: 5 });
  run.info('started', { attempt: 1 });
  run.warn('retrying', { attempt: 2, node: 'n2' });
  log.info('plain');
  assert.deepEqual(json()[0], { time: '2026-01-02T03:04:05.678Z', level: 'info', msg: 'started', job: 'report', node: 'n1', run: 'r1', tick: 5, attempt: 1 });
  assert.equal(json()[1].node, 'n2');
  assert.equal(lines[1].match(/"node"/g)?.length, 1);
  assert.deepEqual(Object.keys(json()[2]).sort(), ['level', 'msg', 'time']);
});

test('pretty output is one readable line with the level and fields', () => {
  const { log, lines } = capture({ pretty: true });
  log.warn('clock skew over the limit', { node: 'web-2', skewMs: 1500 });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].startsWith('{'));
  assert.match(lines[0], /WARN/);
  assert.match(lines[0], /clock skew over the limit/);
  assert.match(lines[0], /web-2/);
  assert.match(lines[0], /1500/);
});

test('silentLogger drops everything, children included', () => {
  silentLogger.error('nothing', { err: new Error('x') });
  silentLogger.child({ job: 'a' }).info('nothing');
});
