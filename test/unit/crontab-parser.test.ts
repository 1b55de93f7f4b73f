/**
 * The incremental parser (CrontabParser): each version of a file parses to
 * exactly what parseCrontab gives for it, whatever the edit, and an edit it
 * can splice keeps every job it did not touch as the very same object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CrontabParser, parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { JobDefinition, ParseOptions, ParseResult } from '../../src/daemon/crontab/types.js';
import { planEdit, planReload, type ReloadPlan } from '../../src/daemon/jobs/reload-plan.js';

const OPTS: ParseOptions = { file: '/etc/dcron/crontab', defaultTz: 'UTC' };

/** Parses `versions` in turn with one parser, checking each against parseCrontab; returns the results. */
function parseVersions(...versions: string[]): { parser: CrontabParser; results: ParseResult[] } {
  const parser = new CrontabParser();
  const results = versions.map((text) => {
    const result = parser.parse(text, OPTS);
    assert.deepEqual(result, parseCrontab(text, OPTS), `version ${JSON.stringify(text)}`);
    return result;
  });
  return { parser, results };
}

const job = (result: ParseResult, name: string): JobDefinition | undefined => result.jobs.find((j) => j.name === name);

const FILE = ['SHELL=/bin/sh', 'A=1', '#dcron name=one', '* * * * * echo one', '#dcron name=two timeout=1m', '*/5 * * * * echo two', '0 3 * * * echo hashed', '#dcron name=three', '@daily echo three', ''].join('\n');

test('a one-line edit re-reads that line: only its job is new, every other job is the same object', () => {
  const edited = FILE.replace('echo two', 'echo TWO');
  const { parser, results } = parseVersions(FILE, edited);
  const [before, after] = results;
  assert.equal(job(after, 'two')!.command, 'echo TWO');
  assert.deepEqual(parser.lastEdit, { removed: [job(before, 'two')], added: [job(after, 'two')] });
  for (const name of ['one', 'three']) assert.equal(job(after, name), job(before, name), name);
  const hashed = before.jobs.find((j) => j.command === 'echo hashed')!;
  assert.equal(after.jobs.find((j) => j.command === 'echo hashed'), hashed);
});

test('editing a command renames its hashed job', () => {
  const { parser, results } = parseVersions(FILE, FILE.replace('echo hashed', 'echo rehashed'));
  const [before, after] = results;
  const old = before.jobs.find((j) => j.command === 'echo hashed')!;
  const renamed = after.jobs.find((j) => j.command === 'echo rehashed')!;
  assert.notEqual(renamed.name, old.name);
  assert.deepEqual(parser.lastEdit, { removed: [old], added: [renamed] });
});

test('an environment line edited above jobs changes their environment and shell', () => {
  const { results } = parseVersions(FILE, FILE.replace('A=1', 'A=2'), FILE.replace('SHELL=/bin/sh', 'SHELL=/bin/bash'));
  for (const name of ['one', 'two', 'three']) assert.equal(job(results[1], name)!.env.A, '2');
  for (const name of ['one', 'two', 'three']) assert.equal(job(results[2], name)!.shell, '/bin/bash');
});

test('an environment line added at the end reaches no job above it, and the file-end environment follows', () => {
  const { parser, results } = parseVersions(FILE, FILE + 'B=late\n');
  assert.deepEqual(results[1].env, { SHELL: '/bin/sh', A: '1', B: 'late' });
  assert.deepEqual(parser.lastEdit, { removed: [], added: [] });
  assert.equal(job(results[1], 'one'), job(results[0], 'one'));
});

test('CRON_TZ edited above jobs moves them to the zone, and an invalid one drops them', () => {
  const withZone = 'CRON_TZ=Europe/Paris\n' + FILE;
  const { results } = parseVersions(withZone, withZone.replace('Europe/Paris', 'America/New_York'), withZone.replace('Europe/Paris', 'Nowhere/Atlantis'));
  assert.equal(job(results[1], 'one')!.tz, 'America/New_York');
  assert.equal(results[2].jobs.length, 0);
  assert.match(results[2].diagnostics[0].message, /unknown time zone/);
});

test('a directive edited above its job renames the job or gives it options', () => {
  const { results } = parseVersions(FILE, FILE.replace('name=two timeout=1m', 'name=deux timeout=1m'), FILE.replace('#dcron name=one', '#dcron name=one timeout=5m'));
  assert.equal(job(results[1], 'two'), undefined);
  assert.equal(job(results[1], 'deux')!.command, 'echo two');
  assert.equal(job(results[2], 'one')!.options.timeoutMs, 300_000);
});

test('a directive split from its job by an inserted line is an error, and joined again the job is back', () => {
  const split = FILE.replace('#dcron name=one\n', '#dcron name=one\n\n');
  const { results } = parseVersions(FILE, split, FILE);
  assert.match(results[1].diagnostics[0].message, /directive is not directly above a job line/);
  assert.deepEqual(job(results[2], 'one'), job(results[0], 'one'));
});

test('names taken and freed across the edit: duplicates below follow the first job that takes the name', () => {
  const text = ['#dcron name=a', '* * * * * echo 1', '#dcron name=b', '* * * * * echo 2', '#dcron name=a', '* * * * * echo 3', '* * * * * same', '* * * * * same', ''].join('\n');
  parseVersions(
    text,
    text.replace('#dcron name=a\n* * * * * echo 1', '#dcron name=c\n* * * * * echo 1'), // the later `a` takes the name now
    text.replace('#dcron name=b', '#dcron name=a'), // `b` becomes a second `a`
    text.replace('* * * * * echo 2', '* * * * * same'), // a hashed duplicate ahead of the two below
    text.replace('* * * * * same\n* * * * * same', '* * * * * same\n* * * * * other'),
  );
});

test('a broken line keeps its job as it was, until the file is fixed', () => {
  const parser = new CrontabParser();
  const first = parser.parse(FILE, OPTS);
  let plan = planReload(new Map(), first);
  const broken = FILE.replace('*/5 * * * * echo two', '*/5 * * 13 * echo two');
  const parsed = parser.parse(broken, OPTS);
  assert.deepEqual(parsed, parseCrontab(broken, OPTS));
  assert.ok(parser.lastEdit);
  plan = planEdit(plan.jobs, plan.retained, parser.lastEdit, parsed);
  assert.deepEqual(plan.retained, ['two']);
  assert.deepEqual(plan.removed, []);
  assert.equal(plan.jobs.get('two'), job(first, 'two'));

  const fixed = parser.parse(FILE.replace('echo two', 'echo 2'), OPTS);
  plan = planEdit(plan.jobs, plan.retained, parser.lastEdit!, fixed);
  assert.deepEqual(plan.retained, []);
  assert.deepEqual(plan.changed, ['two']);
  assert.equal(plan.jobs.get('two')!.command, 'echo 2');
});

test('line ends, a BOM and a missing final newline change as edits too', () => {
  parseVersions(FILE, FILE.replaceAll('\n', '\r\n'), '\uFEFF' + FILE, FILE.slice(0, -1), FILE.slice(0, -1) + ' ', FILE + '\n\n', '', FILE);
});

test('lines inserted and deleted above jobs give them their new line numbers', () => {
  const { results } = parseVersions(FILE, '# a comment\n\n' + FILE, FILE.split('\n').slice(3).join('\n'));
  assert.equal(job(results[1], 'one')!.source.line, 6);
  assert.equal(job(results[2], 'two')!.source.line, 3);
});

// --- any edit ---------------------------------------------------------------------------------

/** Lines of every kind, valid and not, chosen to interact: names, environment, zones, directives. */
const LINES = [
  '',
  '   ',
  '# a comment',
  '# dcron name=x',
  '#dcron name=a',
  '#dcron name=b',
  '#dcron timeout=5m',
  '#dcron overlap=allow retries=2',
  '#dcron bogus=1',
  '#dcron name=a tz=Asia/Tokyo',
  'A=1',
  'A=2',
  'B = x',
  'SHELL=/bin/bash',
  'CRON_TZ=Europe/Paris',
  'CRON_TZ=Nowhere/Bad',
  'CRON_TZ=',
  '* * * * * echo a',
  '* * * * * echo b',
  '*/5 * * * * echo a',
  '0 0 * * * date +%F',
  '61 * * * * bad',
  '@daily echo d',
  '@every 90s echo e',
  '* * * * *',
  '1 2 3 4 5 6 echo six',
  '* * * * * 8 oops',
  '0 0 1 1 * echo x\r',
];

const fileArb = fc.record({ lines: fc.array(fc.constantFrom(...LINES), { maxLength: 30 }), finalNewline: fc.boolean(), bom: fc.boolean() });
type Edit = { kind: 'insert' | 'delete' | 'replace'; at: number; line: string } | { kind: 'text'; at: number; remove: number; insert: string };
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('insert' as const, 'delete' as const, 'replace' as const), at: fc.nat(), line: fc.constantFrom(...LINES) }),
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(), remove: fc.nat({ max: 6 }), insert: fc.constantFrom('', '\n', '\r\n', ' ', '#', '=', '%', 'x', '\t', '\uFEFF', '*', '@', '#dcron name=a\n') }),
);

function render(file: { lines: string[]; finalNewline: boolean; bom: boolean }): string {
  return (file.bom ? '\uFEFF' : '') + file.lines.join('\n') + (file.finalNewline && file.lines.length > 0 ? '\n' : '');
}

function applyEdit(text: string, edit: Edit): string {
  if (edit.kind === 'text') {
    const at = edit.at % (text.length + 1);
    return text.slice(0, at) + edit.insert + text.slice(at + edit.remove);
  }
  const lines = text.split('\n');
  const at = edit.at % (lines.length + (edit.kind === 'insert' ? 1 : 0));
  if (edit.kind === 'insert') lines.splice(at, 0, edit.line);
  else if (edit.kind === 'delete') lines.splice(at, 1);
  else lines[at] = edit.line;
  return lines.join('\n');
}

const sorted = (plan: ReloadPlan) => ({
  added: [...plan.added].sort(),
  changed: [...plan.changed].sort(),
  rescheduled: [...plan.rescheduled].sort(),
  removed: [...plan.removed].sort(),
  retained: [...plan.retained].sort(),
  jobs: [...plan.jobs].sort(([a], [b]) => (a < b ? -1 : 1)),
});

test('any sequence of edits: each version parses as parseCrontab does, and planEdit plans as planReload does', () => {
  fc.assert(
    fc.property(fileArb, fc.array(editArb, { minLength: 1, maxLength: 8 }), (file, edits) => {
      const parser = new CrontabParser();
      let text = render(file);
      let previous = parser.parse(text, OPTS);
      assert.deepEqual(previous, parseCrontab(text, OPTS));
      let table = planReload(new Map(), previous);
      for (const edit of edits) {
        text = applyEdit(text, edit);
        const result = parser.parse(text, OPTS);
        assert.deepEqual(result, parseCrontab(text, OPTS));
        const full = planReload(table.jobs, result);
        const spliced = parser.lastEdit;
        if (spliced) {
          const kept = new Set(previous.jobs.filter((j) => !spliced.removed.includes(j)));
          for (const j of result.jobs) assert.ok(spliced.added.includes(j) || kept.has(j), `job ${j.name} is new but not among the edit's`);
          assert.deepEqual(sorted(planEdit(new Map(table.jobs), table.retained, spliced, result)), sorted(full));
        }
        table = full;
        previous = result;
      }
    }),
    { numRuns: 500, seed: 6_0001 },
  );
});

test('a large file: a one-line edit at either end is spliced, not read again', () => {
  const lines = Array.from({ length: 2000 }, (_, i) => (i % 10 === 0 ? `#dcron name=n${i}\n` : '') + `${i % 60} * * * * task ${i}`);
  const text = lines.join('\n') + '\n';
  for (const edited of [text.replace('task 1999', 'task 1999 --new'), text.replace('0 * * * * task 0', '5 * * * * task 0')]) {
    const { parser, results } = parseVersions(text, edited);
    assert.ok(parser.lastEdit, 'spliced');
    assert.equal(parser.lastEdit.added.length, 1);
    assert.equal(results[1].jobs.filter((j, i) => j !== results[0].jobs[i]).length, 1);
  }
});
