import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import { CrontabParser } from '../../src/daemon/crontab/crontab-parser.js';

const parse = (text: string) => parseCrontab(text, { file: 'crontab', defaultTz: 'UTC' });
const errors = (text: string) => parse(text).diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column}: ${d.message}`);

test('dependencies that cannot work are located errors, and every job is still read', () => {
  const text = [
    '#dcron name=extract',
    '0 * * * * extract',
    '#dcron name=load after=extract,nope',
    '@after load',
    '#dcron name=a after=b',
    '@after a',
    '#dcron name=b after=a',
    '@after b',
    '#dcron name=berlin tz=Europe/Berlin after=extract',
    '@after report',
    '#dcron name=lonely',
    '@after lonely',
    '#dcron name=both after=extract after-failure=extract',
    '@after both',
    '#dcron name=wide shards=4 mode=all',
    '* * * * * wide',
    '',
  ].join('\n');
  assert.deepEqual(errors(text), [
    "3:32: job 'load': after=nope names no job in crontab",
    '5:15: dependency cycle: a -> b -> a (each waits for the next, so none would ever run)',
    "9:43: job 'berlin' runs in Europe/Berlin but its parent 'extract' in UTC: a dependent job shares its parents' calendar (set the same tz= on both)",
    "12:1: job 'lonely': @after needs an after= or after-failure= directive naming the jobs it follows",
    "13:32: job 'both': after= and after-failure= cannot be combined; write two jobs",
    "15:18: job 'wide': shards and mode=all cannot be combined (mode=all runs every tick on every host; shards split it over them)",
  ]);
  assert.equal(parse(text).jobs.length, 8, 'the daemon keeps every job; a dependent job whose parents never end a tick never runs');
});

test('a mode=all parent is followed like any other: its tick ends when every host that ran it has', () => {
  assert.deepEqual(errors('#dcron name=everywhere mode=all\n* * * * * true\n#dcron name=then after=everywhere\n@after then\n'), []);
});

test('a job may follow itself only through a cycle error, and bad values are refused where they are written', () => {
  assert.deepEqual(errors('#dcron name=me after=me\n@after me\n'), ['1:22: dependency cycle: me -> me (each waits for the next, so none would ever run)']);
  assert.match(errors('#dcron name=x shards=100000\n* * * * * x\n')[0], /^1:22: invalid shards '100000': expected a whole number from 1 to 1024/);
  assert.match(errors('#dcron name=x after=a,,b\n@after x\n')[0], /^1:\d+: .*empty job name/);
});

test('the reloading parser reports the same dependency errors as a fresh parse, after an edit too', () => {
  const before = '#dcron name=p\n* * * * * p\n#dcron name=c after=p\n@after c\n';
  const edited = before.replace('after=p', 'after=q');
  const parser = new CrontabParser();
  const opts = { file: 'crontab', defaultTz: 'UTC' };
  assert.deepEqual(parser.parse(before, opts).diagnostics, []);
  assert.deepEqual(parser.parse(edited, opts).diagnostics, parse(edited).diagnostics);
  assert.equal(parse(edited).diagnostics.length, 1);
});
