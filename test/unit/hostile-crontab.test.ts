/**
 * Hostile input for the crontab parser: valid lines mutated (characters
 * inserted, deleted and replaced, huge numbers, NUL, lone surrogates,
 * right-to-left marks), raw bytes, very long lines, directives with random
 * keys and values, environment lines. Whatever the text, parseCrontab must
 * return: every problem located at a real line and column, every job valid
 * enough for the scheduler, the executor and etcd to take as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatDiagnostic, parseCrontab, parseScheduleText } from '../../src/daemon/crontab/parse.js';
import { parseEnvLine } from '../../src/daemon/crontab/env-line.js';
import { JOB_NAME } from '../../src/daemon/crontab/job-name.js';
import type { CronField, JobDefinition, ParseResult } from '../../src/daemon/crontab/types.js';
import { SAFE_SEGMENT } from '../../src/daemon/coordination/etcd/keys.js';
import { decodeJobRecord, encodeJobRecord } from '../../src/daemon/coordination/etcd/job-record.js';
import { isValidTimeZone, scheduleFor } from '../../src/daemon/schedule/index.js';
import { ZONES, anyLine, crontabText, directiveLine, jobLine, mutatedLine, scheduleExpression } from '../helpers/crontab-arbitraries.js';

const FILE = '/etc/dcron/crontab';
const MAX_TIMER_MS = 24 * 86_400_000;

/** Lines as the parser sees them: BOM dropped, LF or CRLF, no empty line after a final newline. */
function linesOf(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

type LineKind = 'blank' | 'directive' | 'comment' | 'env' | 'job';

/** What a line is, from the file format's rules (SPEC.md §1), not from the reader's code. */
function kindOf(line: string): LineKind {
  if (/^[ \t]*$/.test(line)) return 'blank';
  if (/^[ \t]*#dcron(?=[ \t]|$)/.test(line)) return 'directive';
  if (/^[ \t]*#/.test(line)) return 'comment';
  if (parseEnvLine(line) !== null) return 'env';
  return 'job';
}

function parse(text: string, defaultTz = 'UTC'): ParseResult {
  return parseCrontab(text, { file: FILE, defaultTz });
}

function assertLocated(result: ParseResult, lines: string[]): void {
  for (const d of result.diagnostics) {
    const where = JSON.stringify(d);
    assert.ok(d.severity === 'error' || d.severity === 'warning', where);
    assert.equal(d.file, FILE, where);
    assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines.length, `line out of the file: ${where}`);
    assert.equal(d.lineText, lines[d.line - 1], `lineText is not line ${d.line}: ${where}`);
    const width = [...lines[d.line - 1]].length;
    assert.ok(Number.isInteger(d.column) && d.column >= 1 && d.column <= width + 1, `column outside the line: ${where}`);
    assert.ok(typeof d.message === 'string' && d.message.trim() !== '', `no message: ${where}`);
    assert.equal(typeof d.text, 'string');
    assert.doesNotThrow(() => formatDiagnostic(d));
  }
}

function assertField(f: CronField, min: number, max: number, what: string): void {
  assert.ok(Array.isArray(f.values), what);
  for (let i = 0; i < f.values.length; i++) {
    const v = f.values[i];
    assert.ok(Number.isInteger(v) && v >= min && v <= max, `${what} value ${v} outside ${min}-${max}`);
    if (i > 0) assert.ok(v > f.values[i - 1], `${what} values not ascending and unique: ${f.values}`);
  }
}

/** Everything downstream takes a job as it is: check each part it reads. */
function assertValidJob(job: JobDefinition, lines: string[]): void {
  const where = `job ${JSON.stringify(job.name)} from line ${job.source.line}`;
  assert.ok(JOB_NAME.test(job.name) && SAFE_SEGMENT.test(job.name), `${where}: name cannot be an etcd key segment`);
  assert.equal(job.source.file, FILE);
  assert.equal(kindOf(lines[job.source.line - 1]), 'job', `${where}: not a job line`);
  assert.ok(isValidTimeZone(job.tz), `${where}: zone ${job.tz}`);
  assert.ok(job.command.trim() !== '', `${where}: empty command`);
  assert.ok(job.shell !== '', `${where}: empty shell`);
  assert.ok(job.scheduleText !== '', where);
  const spec = job.schedule;
  switch (spec.kind) {
    case 'cron': {
      const f = spec.fields;
      assertField(f.second, 0, 59, `${where} second`);
      assertField(f.minute, 0, 59, `${where} minute`);
      assertField(f.hour, 0, 23, `${where} hour`);
      assertField(f.dom, 1, 31, `${where} dom`);
      assertField(f.month, 1, 12, `${where} month`);
      assertField(f.dow, 0, 6, `${where} dow`);
      for (const d of f.dow.lastOf) assert.ok(d >= 0 && d <= 6, where);
      for (const [d, n] of f.dow.nth) assert.ok(d >= 0 && d <= 6 && n >= 1 && n <= 5, where);
      break;
    }
    case 'every':
      assert.ok(Number.isSafeInteger(spec.intervalMs) && spec.intervalMs >= 1000 && spec.intervalMs % 1000 === 0, where);
      break;
    case 'delay':
      assert.ok(Number.isSafeInteger(spec.delayMs) && spec.delayMs >= 1000 && spec.delayMs % 1000 === 0, where);
      break;
    case 'reboot':
      break;
  }
  assert.doesNotThrow(() => scheduleFor(spec, job.tz), where);
  const o = job.options;
  assert.ok(o.timeoutMs === null || (Number.isInteger(o.timeoutMs) && o.timeoutMs >= 1 && o.timeoutMs <= MAX_TIMER_MS), `${where}: timeout ${o.timeoutMs}`);
  assert.ok(Number.isInteger(o.retries) && o.retries >= 0 && o.retries <= 100, where);
  for (const ms of [o.retryDelayMs, o.jitterMs, o.catchupMs]) assert.ok(Number.isSafeInteger(ms) && ms >= 0, `${where}: ${ms}`);
  assert.ok(o.retryDelayMs <= MAX_TIMER_MS && o.jitterMs <= MAX_TIMER_MS, where);
  assert.ok(Number.isSafeInteger(o.maxOutputBytes) && o.maxOutputBytes > 0, where);
  assert.ok(o.cwd === null || o.cwd.startsWith('/'), where);
  // Another host gets the job through etcd as UTF-8 JSON: it must come back the same.
  const record = { v: 2 as const, def: job, writer: 'n1', file: FILE, fileHash: 'x', writtenMs: 0 };
  const wire = Buffer.from(encodeJobRecord(record), 'utf8').toString('utf8');
  assert.deepEqual(decodeJobRecord(job.name, wire).def, JSON.parse(JSON.stringify(job)), `${where}: does not survive etcd`);
}

/** Every job line gives a job, or an error on it or on the directives right above it. */
function assertEveryJobLineAccountedFor(result: ParseResult, lines: string[]): void {
  const jobLines = new Set(result.jobs.map((j) => j.source.line));
  const errorLines = new Set(result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.line));
  for (let i = 1; i <= lines.length; i++) {
    if (kindOf(lines[i - 1]) !== 'job' || jobLines.has(i) || errorLines.has(i)) continue;
    let explained = false;
    for (let above = i - 1; above >= 1 && kindOf(lines[above - 1]) === 'directive'; above--) {
      if (errorLines.has(above)) explained = true;
    }
    assert.ok(explained, `line ${i} ${JSON.stringify(lines[i - 1])} gave neither a job nor an error`);
  }
}

const RUNS = { numRuns: 400, seed: 5_0004 };

test('any file: no throw, every problem located, every job valid and unique', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(crontabText, fc.constantFrom(...ZONES), (text, zone) => {
      const lines = linesOf(text);
      const result = parse(text, zone);
      assertLocated(result, lines);
      for (const job of result.jobs) assertValidJob(job, lines);
      assert.equal(new Set(result.jobs.map((j) => j.name)).size, result.jobs.length, 'two jobs share a name');
      assertEveryJobLineAccountedFor(result, lines);
    }),
    RUNS,
  );
});

test('one job line under its directives: exactly one job, or an error and no job', { timeout: 60_000 }, () => {
  const block = fc.tuple(fc.array(fc.oneof(directiveLine, mutatedLine.filter((l) => kindOf(l) === 'directive')), { maxLength: 2 }), fc.oneof(jobLine, mutatedLine, anyLine));
  fc.assert(
    fc.property(block, ([directives, candidate]) => {
      fc.pre(kindOf(candidate) === 'job');
      const text = [...directives, candidate].join('\n') + '\n';
      const result = parse(text);
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      assertLocated(result, linesOf(text));
      if (errors.length === 0) assert.equal(result.jobs.length, 1, `no error and no job for ${JSON.stringify(text)}`);
      else assert.equal(result.jobs.length, 0, `a job despite ${JSON.stringify(errors)}`);
    }),
    RUNS,
  );
});

test('a directive block is never lost silently: not followed by a job line, it is an error', () => {
  fc.assert(
    fc.property(directiveLine, fc.constantFrom('', '# comment', 'X=1'), (directive, after) => {
      const result = parse(`${directive}\n${after}\n`);
      assert.equal(result.jobs.length, 0);
      assert.ok(result.diagnostics.some((d) => d.severity === 'error' && d.line === 1), JSON.stringify(result.diagnostics));
    }),
    { numRuns: 200, seed: 5_0004 },
  );
});

test('names that would escape the etcd key namespace or quote their way into SQL are located errors', () => {
  const hostile = ['a/b', '../x', '..', '.hidden', 'a\0b', "o'brien", '"; DROP TABLE runs; --', "x'); DELETE FROM runs; --", 'a b', 'ö', '😀', 'a\u202eb', '-rf', '_x', 'a'.repeat(129), 'a\\b', 'a%b', ''];
  for (const name of hostile) {
    const directive = `#dcron name=${name.includes(' ') ? `"${name}"` : name}`;
    const result = parse(`${directive}\n* * * * * true\n`);
    assert.deepEqual(result.jobs, [], `name ${JSON.stringify(name)} was accepted`);
    const [error] = result.diagnostics;
    assert.equal(error?.severity, 'error', JSON.stringify(name));
    assert.equal(error.line, 1);
    assert.ok(error.column >= 8, `column ${error.column} for ${JSON.stringify(name)}`);
  }
  // The longest allowed name and dots inside a name are fine: they are still one key segment.
  for (const name of ['a'.repeat(128), 'a..b', 'v1.2_x-y']) {
    const [job] = parse(`#dcron name=${name}\n* * * * * true\n`).jobs;
    assert.equal(job?.name, name);
  }
});

test('long hostile lines parse in linear time, and a directive line reports a bounded number of problems', { timeout: 60_000 }, () => {
  const long = 'x'.repeat(200_000);
  const cases = [
    `${Array.from({ length: 100_000 }, (_, i) => i % 60).join(',')} * * * * true`,
    `${'1-59/1,'.repeat(30_000)}0 * * * * true`,
    `#dcron name=a on-failure="${'\\"'.repeat(100_000)}"\n* * * * * true`,
    `* * * * * ${long}%${'%'.repeat(100_000)}`,
    `#dcron ${'k=v '.repeat(50_000)}\n* * * * * true`,
    `${'\0'.repeat(200_000)}`,
    `X=${'\ud800'.repeat(200_000)}`,
    Array.from({ length: 5_000 }, (_, i) => `#dcron name=j${i}\n* * * * * true`).join('\n'),
  ];
  for (const text of cases) {
    const started = performance.now();
    const result = parse(text);
    const ms = performance.now() - started;
    assert.ok(ms < 3000, `${ms.toFixed(0)} ms for ${JSON.stringify(text.slice(0, 40))}...`);
    assertLocated(result, linesOf(text));
  }
  // 50,000 bad items used to make 50,000 diagnostics, each counting columns across the whole line.
  const flood = parse(`#dcron ${'k=v '.repeat(50_000)}\n* * * * * true\n`).diagnostics;
  assert.equal(flood.length, 33);
  assert.match(flood[32].message, /too many items on one directive line/);
  assert.equal(flood[32].column, 8 + 32 * 4);
});

test('dcron next\'s parser: any expression parses or gives a column inside it', () => {
  fc.assert(
    fc.property(scheduleExpression, (text) => {
      const parsed = parseScheduleText(text);
      if (parsed.ok) {
        assert.ok(parsed.scheduleText !== '');
        return;
      }
      assert.ok(parsed.message.trim() !== '');
      assert.ok(Number.isInteger(parsed.column) && parsed.column >= 1 && parsed.column <= [...text].length + 1, `column ${parsed.column} of ${JSON.stringify(text)}`);
    }),
    { numRuns: 1000, seed: 5_0004 },
  );
});
