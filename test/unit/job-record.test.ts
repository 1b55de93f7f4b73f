import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import { decodeJobRecord, encodeJobRecord, JobRecordError, sameDefinition, type JobRecord } from '../../src/daemon/coordination/etcd/job-record.js';

const [def] = parseCrontab('PATH=/bin\n#dcron name=backup timeout=1h\n*/5 * * * * echo hi%in\n', { file: '/etc/dcron/crontab', defaultTz: 'Europe/Berlin' }).jobs;
const record: JobRecord = { v: 2, def, writer: 'node-a', file: '/etc/dcron/crontab', fileHash: 'abc', writtenMs: 1_700_000_000_000 };

test('a record survives encode and decode', () => {
  assert.deepEqual(decodeJobRecord('backup', encodeJobRecord(record)), record);
});

test('every kind of schedule decodes', () => {
  const jobs = parseCrontab('#dcron name=e\n@every 90s echo\n#dcron name=d\n@delay 30s echo\n#dcron name=r\n@reboot echo\n#dcron name=s\n0 0 12 L * 5L,1#2 echo\n', { file: 'f', defaultTz: 'UTC' }).jobs;
  for (const job of jobs) assert.deepEqual(decodeJobRecord(job.name, encodeJobRecord({ ...record, def: job })).def, job);
});

/** `record` as JSON with one change made by `edit`. */
function mangled(edit: (r: any) => void): string {
  const copy = JSON.parse(encodeJobRecord(record));
  edit(copy);
  return JSON.stringify(copy);
}

/** `record` as a version 1 value (the parsed schedule stored with it), with one change made by `edit`. */
function version1(edit: (r: any) => void = () => {}): string {
  const copy = JSON.parse(JSON.stringify({ ...record, v: 1 }));
  edit(copy);
  return JSON.stringify(copy);
}

test('the schedule is not stored: it is read again from its text, the rest as written', () => {
  const wire = JSON.parse(encodeJobRecord(record));
  assert.equal(wire.v, 2);
  assert.equal('schedule' in wire.def, false);
  assert.equal(wire.def.scheduleText, '*/5 * * * *');
  const decoded = decodeJobRecord('backup', JSON.stringify(wire));
  assert.deepEqual(decoded.def.schedule, def.schedule);
  // Same key order as the parser's, so the quick comparison of unchanged jobs holds.
  assert.equal(JSON.stringify(decoded.def), JSON.stringify(def));
});

test('a version 1 record, with its schedule stored, still reads', () => {
  const decoded = decodeJobRecord('backup', version1());
  assert.deepEqual(decoded, record);
  assert.ok(sameDefinition(decoded.def, def));
});

test('corrupt or foreign values are refused with a JobRecordError naming the field', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{"v":1,', /not JSON/],
    ['a newer version', mangled((r) => (r.v = 3)), /unsupported record version 3/],
    ['a name that cannot be a key segment', mangled((r) => (r.def.name = 'a/b')), /def\.name: 'a\/b' is not allowed/],
    ['a record naming another job', mangled((r) => (r.def.name = 'other')), /def\.name: names job 'other', not 'backup'/],
    ['an unknown zone', mangled((r) => (r.def.tz = 'Mars/Olympus')), /def\.tz/],
    ['a schedule that does not parse', mangled((r) => (r.def.scheduleText = '*/5 * * *')), /def\.scheduleText: '\*\/5 \* \* \*' is not a schedule/],
    ['a minute out of range in a version 1 record', version1((r) => r.def.schedule.fields.minute.values.push(60)), /minute\.values\[12\]/],
    ['a missing option', mangled((r) => delete r.def.options.overlap), /def\.options\.overlap/],
    ['a timer past 2^31 ms', mangled((r) => (r.def.options.jitterMs = 2 ** 31)), /def\.options\.jitterMs/],
    ['an env value that is not a string', mangled((r) => (r.def.env.PATH = 1)), /def\.env\.PATH/],
    ['an unknown schedule kind in a version 1 record', version1((r) => (r.def.schedule = { kind: 'lunar' })), /def\.schedule\.kind/],
    ['a webhook that is not an http URL', mangled((r) => (r.def.options.onFailureWebhook = 'file:///etc/passwd')), /def\.options\.onFailureWebhook/],
    ['a writer that cannot be a node id', mangled((r) => (r.writer = '../x')), /writer/],
    ['an array', '[]', /record: not an object/],
  ];
  for (const [what, text, reason] of cases) {
    assert.throws(
      () => decodeJobRecord('backup', text),
      (err: unknown) => err instanceof JobRecordError && err.job === 'backup' && reason.test(err.reason),
      what,
    );
  }
});

test('a record from a version without on-failure-webhook reads as none', () => {
  const old = mangled((r) => delete r.def.options.onFailureWebhook);
  const decoded = decodeJobRecord('backup', old);
  assert.equal(decoded.def.options.onFailureWebhook, null);
  assert.ok(sameDefinition(decoded.def, record.def));
});

test('sameDefinition ignores where the line sits, the file path, and key order', () => {
  const moved = { ...def, source: { file: '/opt/other', line: 40 } };
  assert.ok(sameDefinition(def, moved));
  const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(def).reverse())));
  reordered.options = Object.fromEntries(Object.entries(def.options).reverse());
  assert.ok(sameDefinition(def, reordered));
  assert.ok(!sameDefinition(def, { ...def, command: 'echo bye' }));
  assert.ok(!sameDefinition(def, { ...def, env: { PATH: '/usr/bin' } }));
});
