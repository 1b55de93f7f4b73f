import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import { planReload } from '../../src/daemon/jobs/reload-plan.js';
import type { JobDefinition } from '../../src/daemon/crontab/types.js';

const parse = (text: string) => parseCrontab(text, { file: '/etc/dcron/crontab', defaultTz: 'UTC' });
const table = (text: string) => new Map<string, JobDefinition>(parse(text).jobs.map((j) => [j.name, j]));

const before = table('#dcron name=a\n* * * * * echo a\n#dcron name=b\n*/5 * * * * echo b\n#dcron name=c\n0 * * * * echo c\n');

test('unchanged, changed, rescheduled, added and removed jobs', () => {
  const plan = planReload(before, parse('\n#dcron name=a\n* * * * * echo a\n#dcron name=b\n*/5 * * * * echo B\n#dcron name=d\n@hourly echo d\n'));
  assert.deepEqual(plan.added, ['d']);
  assert.deepEqual(plan.changed, ['b'], 'a only moved down a line: not a change');
  assert.deepEqual(plan.rescheduled, []);
  assert.deepEqual(plan.removed, ['c']);
  assert.deepEqual([...plan.jobs.keys()].sort(), ['a', 'b', 'd']);
});

test('a schedule or zone change reschedules', () => {
  const plan = planReload(before, parse('#dcron name=a tz=Europe/Paris\n* * * * * echo a\n#dcron name=b\n*/10 * * * * echo b\n#dcron name=c\n0 * * * * echo c\n'));
  assert.deepEqual(plan.rescheduled.sort(), ['a', 'b']);
});

test('a file with errors removes nothing: a broken job keeps its previous definition', () => {
  const plan = planReload(before, parse('#dcron name=a\n* * * * * echo a\n#dcron name=b\n*/5 * * 13 * echo b\n'));
  assert.deepEqual(plan.removed, []);
  assert.deepEqual(plan.retained.sort(), ['b', 'c']);
  assert.equal(plan.jobs.get('b'), before.get('b'));
});
