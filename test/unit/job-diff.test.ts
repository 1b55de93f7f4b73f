import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { JobDefinition } from '../../src/daemon/crontab/types.js';
import { diffJobList, formatJobDiff, isEmptyDiff } from '../../src/daemon/coordination/etcd/job-diff.js';
import type { JobRecord } from '../../src/daemon/coordination/etcd/job-record.js';

const parse = (text: string, file = '/etc/dcron/crontab'): JobDefinition[] => parseCrontab(text, { file, defaultTz: 'UTC' }).jobs;

/** The cluster as `writer` would have published `text`. */
function cluster(text: string, writer: string, file = '/etc/dcron/crontab'): Map<string, JobRecord> {
  return new Map(parse(text, file).map((def) => [def.name, { v: 2, def, writer, file, fileHash: 'h', writtenMs: 0 }]));
}

const FILE = '#dcron name=a\n*/5 * * * * echo a\n#dcron name=b\n@hourly echo b\n#dcron name=c\n0 3 * * * echo c\n';

test('the same file is unchanged, even with lines moved and the file at another path', () => {
  const diff = diffJobList(cluster(FILE, 'node-a'), parse(`\n\n${FILE}`, '/opt/crontab'), 'node-b', false);
  assert.deepEqual(diff.unchanged, ['a', 'b', 'c']);
  assert.ok(isEmptyDiff(diff));
  assert.equal(formatJobDiff(diff), 'no changes (0 to add, 0 to change, 0 to remove, 3 unchanged)');
});

test('added, changed with a field summary, and removed when this host wrote it', () => {
  const next = '#dcron name=a timeout=5m\n*/10 * * * * echo a\n#dcron name=b\n@hourly echo b\nFOO=bar\n#dcron name=d\n@daily echo d\n';
  const diff = diffJobList(cluster(FILE, 'node-a'), parse(next), 'node-a', false);
  assert.deepEqual(diff.add.map((a) => a.name), ['d']);
  assert.deepEqual(diff.change.map((c) => c.name), ['a']);
  assert.deepEqual(diff.change[0].fields, [
    { field: 'schedule', before: '"*/5 * * * *"', after: '"*/10 * * * *"' },
    { field: 'options.timeoutMs', before: 'null', after: '300000' },
  ]);
  assert.equal(diff.change[0].overwrites, false, 'this host wrote it: not a conflict');
  assert.deepEqual(diff.remove.map((r) => r.name), ['c']);
  assert.deepEqual(diff.unchanged, ['b']);
  assert.equal(
    formatJobDiff(diff),
    [
      '+ d  @daily  echo d',
      '~ a  schedule: "*/5 * * * *" -> "*/10 * * * *"',
      '~ a  options.timeoutMs: null -> 300000',
      '- c',
      '1 to add, 1 to change, 1 to remove, 1 unchanged',
    ].join('\n'),
  );
});

test('a job another host wrote last is kept, not removed', () => {
  const diff = diffJobList(cluster(FILE, 'node-a'), parse('#dcron name=a\n*/5 * * * * echo a\n'), 'node-b', false);
  assert.deepEqual(diff.remove, []);
  assert.deepEqual(diff.keptBecauseOtherWriter.map((k) => k.name), ['b', 'c']);
  assert.match(formatJobDiff(diff), /^= b {2}kept: last published by node-a from \/etc\/dcron\/crontab$/m);
});

test('a file with errors removes nothing, even jobs this host wrote, but its valid changes still apply', () => {
  const diff = diffJobList(cluster(FILE, 'node-a'), parse('#dcron name=a\n*/5 * * * * echo A\n'), 'node-a', true);
  assert.deepEqual(diff.remove, []);
  assert.deepEqual(diff.keptBecauseErrors.map((k) => k.name), ['b', 'c']);
  assert.deepEqual(diff.change.map((c) => c.name), ['a']);
  assert.match(formatJobDiff(diff), /^= c {2}kept: not in this file, but the file has errors$/m);
});

test('replacing a definition another host wrote is flagged as an overwrite', () => {
  const diff = diffJobList(cluster(FILE, 'node-a', '/srv/a.cron'), parse('#dcron name=b\n@hourly echo other\n'), 'node-b', false);
  assert.equal(diff.change[0].overwrites, true);
  assert.deepEqual(diff.change[0].fields, [{ field: 'command', before: '"echo b"', after: '"echo other"' }]);
  assert.match(formatJobDiff(diff), /^! b {2}replaces the definition node-a published from \/srv\/a\.cron$/m);
});

test('environment and stdin changes are named by field; long values are shortened', () => {
  const long = 'x'.repeat(200);
  const diff = diffJobList(cluster('A=1\n#dcron name=a\n* * * * * cat%hello\n', 'n'), parse(`B=2\n#dcron name=a\n* * * * * cat%${long}\n`), 'n', false);
  const fields = diff.change[0].fields;
  assert.deepEqual(fields.map((f) => f.field), ['stdin', 'env.A', 'env.B']);
  assert.equal(fields[1].after, '(unset)');
  assert.equal(fields[2].before, '(unset)');
  assert.ok(fields[0].after.length <= 60 && fields[0].after.endsWith('…'));
});

test('the same schedule text parsed differently (another dcron version) shows the parsed field', () => {
  const before = cluster('#dcron name=a\n*/5 * * * * echo a\n', 'n');
  const after = parse('#dcron name=a\n*/5 * * * * echo a\n');
  after[0].schedule = { kind: 'every', intervalMs: 300_000 };
  const diff = diffJobList(before, after, 'n', false);
  assert.ok(diff.change[0].fields.some((f) => f.field.startsWith('parsedSchedule.')));
});

test('the diff is ordered by job name, whatever the file order', () => {
  const diff = diffJobList(new Map(), parse('#dcron name=z\n@daily echo z\n#dcron name=m\n@daily echo m\n#dcron name=a\n@daily echo a\n'), 'n', false);
  assert.deepEqual(diff.add.map((a) => a.name), ['a', 'm', 'z']);
});
