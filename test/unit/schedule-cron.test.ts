/**
 * Which wall times a cron expression matches: fields, steps, the Vixie day
 * rule, L and #, leap years, never-matching expressions. Cases come from
 * other implementations' published tests (source next to each group); all
 * run in UTC so DST plays no part (schedule-dst.test.ts covers that).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCronExpression } from '../../src/daemon/crontab/fields.js';
import { CronSchedule } from '../../src/daemon/schedule/cron-schedule.js';
import { formatTick } from '../../src/daemon/schedule/format.js';
import { nextTicks } from '../../src/daemon/schedule/index.js';

function schedule(expr: string, tz = 'UTC'): CronSchedule {
  const parsed = parseCronExpression(expr);
  assert.ok(parsed.ok, `${expr} does not parse`);
  return new CronSchedule(parsed.fields, tz);
}

function ticks(expr: string, from: string, n: number, tz = 'UTC'): string[] {
  return nextTicks(schedule(expr, tz), Date.parse(from), n).map((ms) => formatTick(ms, tz));
}

/** `2012-07-09 15:00` -> `2012-07-09T15:00:00+00:00` */
const utc = (text: string) => formatTick(Date.parse(`${text.replace(' ', 'T')}Z`), 'UTC');

type Case = [expr: string, from: string, expected: string[]];

function check(title: string, cases: Case[], tz = 'UTC'): void {
  for (const [expr, from, expected] of cases) {
    test(`${title}: '${expr}' after ${from}`, () => {
      assert.deepEqual(ticks(expr, from, expected.length, tz), expected);
    });
  }
}

// robfig/cron spec_test.go, TestNext (times are UTC there too). That version reads
// `sec min hour dom month [dow]`, so its five-word expressions get a `*` day of week here.
check('robfig/cron', [
  ['0 0/15 * * * *', '2012-07-09T14:45:00Z', [utc('2012-07-09 15:00:00')]],
  ['0 0/15 * * * *', '2012-07-09T14:59:59Z', [utc('2012-07-09 15:00:00')]],
  ['0 20-35/15 * * * *', '2012-07-09T15:45:00Z', [utc('2012-07-09 16:20:00')]],
  ['0 */15 * * * *', '2012-07-09T23:46:00Z', [utc('2012-07-10 00:00:00')]],
  ['0 20-35/15 * * * *', '2012-07-09T23:45:00Z', [utc('2012-07-10 00:20:00')]],
  ['15/35 20-35/15 * * * *', '2012-07-09T23:35:51Z', [utc('2012-07-10 00:20:15')]],
  ['15/35 20-35/15 1/2 * * *', '2012-07-09T23:35:51Z', [utc('2012-07-10 01:20:15')]],
  ['15/35 20-35/15 10-12 * * *', '2012-07-09T23:35:51Z', [utc('2012-07-10 10:20:15')]],
  ['15/35 20-35/15 1/2 */2 * *', '2012-07-09T23:35:51Z', [utc('2012-07-11 01:20:15')]],
  ['15/35 20-35/15 * 9-20 * *', '2012-07-09T23:35:51Z', [utc('2012-07-10 00:20:15')]],
  ['15/35 20-35/15 * 9-20 Jul *', '2012-07-09T23:35:51Z', [utc('2012-07-10 00:20:15')]],
  ['0 0 0 9 Apr-Oct ?', '2012-07-09T23:35:00Z', [utc('2012-08-09 00:00:00')]],
  ['0 0 0 */5 Apr,Aug,Oct Mon', '2012-07-09T23:35:00Z', [utc('2012-08-06 00:00:00')]],
  ['0 0 0 */5 Oct Mon', '2012-07-09T23:35:00Z', [utc('2012-10-01 00:00:00')]],
  ['0 0 0 * Feb Mon', '2012-07-09T23:35:00Z', [utc('2013-02-04 00:00:00')]],
  // `Mon/2` is Mon, Wed, Fri: the step stops at Saturday (SPEC.md).
  ['0 0 0 * Feb Mon/2', '2012-07-09T23:35:00Z', [utc('2013-02-01 00:00:00')]],
  ['0 * * * * *', '2012-12-31T23:59:45Z', [utc('2013-01-01 00:00:00')]],
  ['0 0 0 29 Feb ?', '2012-07-09T23:35:00Z', [utc('2016-02-29 00:00:00')]],
  ['0 0 0 30 Feb ?', '2012-07-09T23:35:00Z', []],
  ['0 0 0 31 Apr ?', '2012-07-09T23:35:00Z', []],
]);

// robfig/cron spec_test.go, TestActivation: does the schedule fire at exactly this instant?
const activation: Array<[string, string, boolean]> = [
  ['0 * * 1,15 * Sun', '2012-07-15T00:00:00Z', true],
  ['0 * * 1,15 * Sun', '2012-06-15T00:00:00Z', true],
  ['0 * * 1,15 * Sun', '2012-08-01T00:00:00Z', true],
  ['0 * * * * Mon', '2012-07-15T00:00:00Z', false],
  ['0 * * */10 * Sun', '2012-07-15T00:00:00Z', false],
  ['0 * * 1,15 * *', '2012-07-09T00:00:00Z', false],
  ['0 * * 1,15 * *', '2012-07-15T00:00:00Z', true],
  ['0 * * */2 * Sun', '2012-07-15T00:00:00Z', true],
  ['0 30 08 ? Jul Sun', '2012-07-15T08:30:00Z', true],
  ['0 30 08 15 Jul ?', '2012-07-16T08:30:00Z', false],
];
for (const [expr, at, fires] of activation) {
  test(`robfig/cron TestActivation: '${expr}' ${fires ? 'fires' : 'does not fire'} at ${at}`, () => {
    const instant = Date.parse(at);
    assert.equal(schedule(expr).next(instant - 1000) === instant, fires);
  });
}

// The two examples of the day rule in the brief and SPEC.md: a field starting with `*` ANDs.
check('Vixie day rule', [
  // Odd days that are Mondays.
  ['0 0 */2 * 1', '2026-01-01T00:00:00Z', ['2026-01-05', '2026-01-19', '2026-02-09', '2026-02-23', '2026-03-09'].map((d) => utc(`${d} 00:00:00`))],
  // The 1st, the 15th, or any Monday.
  ['0 0 1,15 * 1', '2026-01-01T00:00:00Z', ['2026-01-05', '2026-01-12', '2026-01-15', '2026-01-19', '2026-01-26', '2026-02-01'].map((d) => utc(`${d} 00:00:00`))],
]);

// lawcal/crondst tests/test_crondst.py, test_vixie_cron_hack (America/New_York, no DST involved):
// an oversized step keeps the `*` so the day fields AND.
check('crondst', [
  ['0 13 */999 1,4,7,10 3', '2020-09-24T00:00:00-04:00', ['2025-01-01T13:00:00-05:00']],
  ['30 3 */999,1-7 * 1', '2023-02-28T12:00:00-05:00', [
    '2023-03-06T03:30:00-05:00', '2023-04-03T03:30:00-04:00', '2023-05-01T03:30:00-04:00', '2023-06-05T03:30:00-04:00', '2023-07-03T03:30:00-04:00',
  ]],
  ['30 3 */999 * 1', '2023-02-28T12:00:00-05:00', ['2023-05-01T03:30:00-04:00', '2024-01-01T03:30:00-05:00', '2024-04-01T03:30:00-04:00', '2024-07-01T03:30:00-04:00']],
  // test_leap_years
  ['0 12 29 2 *', '2023-02-28T12:00:00-05:00', ['2024-02-29T12:00:00-05:00', '2028-02-29T12:00:00-05:00', '2032-02-29T12:00:00-05:00']],
  ['2,4 12 29 2 *', '2024-02-29T12:02:00-05:00', ['2024-02-29T12:04:00-05:00', '2028-02-29T12:02:00-05:00', '2028-02-29T12:04:00-05:00', '2032-02-29T12:02:00-05:00']],
  ['0 12 31 * *', '2023-01-01T12:00:00-05:00', [
    '2023-01-31T12:00:00-05:00', '2023-03-31T12:00:00-04:00', '2023-05-31T12:00:00-04:00', '2023-07-31T12:00:00-04:00',
    '2023-08-31T12:00:00-04:00', '2023-10-31T12:00:00-04:00', '2023-12-31T12:00:00-05:00', '2024-01-31T12:00:00-05:00',
  ]],
  // test_valid_expression: both day fields restricted, so either matches.
  ['* * 1,5-6 * 3-5,0', '2023-02-06T23:58:00-05:00', ['2023-02-06T23:59:00-05:00', '2023-02-08T00:00:00-05:00', '2023-02-08T00:01:00-05:00']],
  ['5-6,17 10-11,23 1,5-6 3,7-11 3-5,0', '2023-03-10T23:06:00-05:00', [
    '2023-03-10T23:17:00-05:00', '2023-03-12T10:05:00-04:00', '2023-03-12T10:06:00-04:00', '2023-03-12T10:17:00-04:00',
  ]],
  // test_step: `N/1` runs from N to the end of the field.
  ['3/1 * * * *', '2022-12-31T23:57:00-05:00', ['2022-12-31T23:58:00-05:00', '2022-12-31T23:59:00-05:00', '2023-01-01T00:03:00-05:00', '2023-01-01T00:04:00-05:00']],
  ['2-10/9 * * * *', '2022-12-31T23:57:00-05:00', ['2023-01-01T00:02:00-05:00', '2023-01-01T01:02:00-05:00']],
  // test_seconds: a start inside a second still gives the next whole minute.
  ['* * * * *', '2022-12-31T23:57:59.099-05:00', ['2022-12-31T23:58:00-05:00', '2022-12-31T23:59:00-05:00']],
], 'America/New_York');

// harrisiirak/cron-parser tests/CronExpressionParser.test.ts and tests/CronParser.test.ts ('L' and '#').
const days = (prefix: string, list: number[], time = '00:00:00') => list.map((d) => utc(`${prefix}-${String(d).padStart(2, '0')} ${time}`));
check('cron-parser', [
  ['0 0 0 * * 1L', '2021-09-01T00:00:00Z', days('2021-09', [27])],
  ['0 0 0 * * 2L', '2021-09-01T00:00:00Z', days('2021-09', [28])],
  ['0 0 0 * * 3L', '2021-09-01T00:00:00Z', days('2021-09', [29])],
  ['0 0 0 * * 4L', '2021-09-01T00:00:00Z', days('2021-09', [30])],
  ['0 0 0 * * 5L', '2021-09-01T00:00:00Z', days('2021-09', [24])],
  ['0 0 0 * * 6L', '2021-09-01T00:00:00Z', days('2021-09', [25])],
  ['0 0 0 * * 0L', '2021-09-01T00:00:00Z', days('2021-09', [26])],
  ['0 0 0 * * 7L', '2021-09-01T00:00:00Z', days('2021-09', [26])],
  ['0 0 0 * * 1L,5L', '2021-09-01T00:00:00Z', days('2021-09', [24, 27])],
  ['0 0 0 * * 1,5L', '2021-09-01T00:00:00Z', days('2021-09', [6, 13, 20, 24, 27])],
  ['0 0 L * *', '2014-01-01T00:00:00Z', [
    ...days('2014-01', [31]), ...days('2014-02', [28]), ...days('2014-03', [31]), ...days('2014-04', [30]), ...days('2014-05', [31]),
    ...days('2014-06', [30]), ...days('2014-07', [31]), ...days('2014-08', [31]), ...days('2014-09', [30]), ...days('2014-10', [31]),
  ]],
  ['0 0 L 2 *', '2014-01-01T00:00:00Z', [...days('2014-02', [28]), ...days('2015-02', [28]), ...days('2016-02', [29])]],
  ['0 0 1,3,6-8,L 2 *', '2014-01-01T00:00:00Z', days('2014-02', [1, 3, 6, 7, 8, 28])],
  ['0 0 6-20/2,L 2 *', '2016-01-01T00:00:00Z', days('2016-02', [6, 8, 10, 12, 14, 16, 18, 20, 29])],
  ['0 0 0 ? * 0#1', '2019-04-30T00:00:00Z', [...days('2019-05', [5]), ...days('2019-06', [2]), ...days('2019-07', [7]), ...days('2019-08', [4])]],
  ['0 0 0 ? * 0#2', '2019-04-30T00:00:00Z', [...days('2019-05', [12]), ...days('2019-06', [9]), ...days('2019-07', [14]), ...days('2019-08', [11])]],
  ['0 0 0 ? * 0#5', '2019-04-30T00:00:00Z', [...days('2019-06', [30]), ...days('2019-09', [29]), ...days('2019-12', [29]), ...days('2020-03', [29])]],
  ['0 0 0 ? MAY 0#2', '2023-05-06T00:00:00Z', [
    ...days('2023-05', [14]), ...days('2024-05', [12]), ...days('2025-05', [11]), ...days('2026-05', [10]), ...days('2027-05', [9]), ...days('2028-05', [14]),
  ]],
  // Day of month or the third Wednesday.
  ['0 0 0 16,18 * 3#3', '2019-04-01T00:00:00Z', [...days('2019-04', [16, 17, 18]), ...days('2019-05', [15, 16, 18])]],
  // Day 12 of August or a weekend day in August.
  ['10 2 12 8 6-7', '2012-12-26T14:38:53Z', [
    ...days('2013-08', [3, 4, 10, 11, 12, 17, 18, 24, 25, 31], '02:10:00'), ...days('2014-08', [2, 3, 9, 10, 12], '02:10:00'),
  ]],
  ['10 2 ? * 3', '2023-04-29T00:00:00Z', [...days('2023-05', [3, 10, 17, 24, 31], '02:10:00'), ...days('2023-06', [7, 14, 21, 28], '02:10:00'), ...days('2023-07', [5], '02:10:00')]],
  // Issue #284: `1-31` is a restriction that matches every day, so OR with Monday is every day.
  ['0 12 1-31 * 1', '2022-10-30T14:00:00Z', [...days('2022-10', [31], '12:00:00'), ...days('2022-11', [1, 2, 3, 4, 5, 6, 7], '12:00:00')]],
  ['0 12 */5 6 *', '2019-06-01T11:00:00Z', [...days('2019-06', [1, 6, 11, 16, 21, 26], '12:00:00'), ...days('2020-06', [1], '12:00:00')]],
  ['0 15 */5 5 *', '2019-05-01T11:00:00Z', [...days('2019-05', [1, 6, 11, 16, 21, 26, 31], '15:00:00'), ...days('2020-05', [1], '15:00:00')]],
  ['6/23 * * * *', '2012-12-26T14:38:53Z', [utc('2012-12-26 14:52:00'), utc('2012-12-26 15:06:00'), utc('2012-12-26 15:29:00'), utc('2012-12-26 15:52:00')]],
  ['20-40/10 * * * * *', '2012-12-26T14:38:00Z', [utc('2012-12-26 14:38:20'), utc('2012-12-26 14:38:30'), utc('2012-12-26 14:38:40')]],
]);

test('ticks are strictly after the given instant, whatever its milliseconds', () => {
  const s = schedule('0 * * * *');
  const tick = Date.parse('2026-05-01T10:00:00Z');
  assert.equal(s.next(tick - 1), tick);
  assert.equal(s.next(tick), tick + 3_600_000);
  assert.equal(s.next(tick + 999), tick + 3_600_000);
});

test('a leap-day schedule skips the non-leap year 2100', () => {
  assert.deepEqual(ticks('0 0 29 2 *', '2096-03-01T00:00:00+01:00', 2, 'Europe/Berlin'), ['2104-02-29T00:00:00+01:00', '2108-02-29T00:00:00+01:00']);
});

test('a day matching once in decades is found across the skipped leap year 2100', () => {
  // Monday Feb 29 (the fifth Monday of February) falls in 2044, 2072, then 2112.
  assert.deepEqual(ticks('0 0 * 2 1#5', '2044-03-01T00:00:00Z', 2), [utc('2072-02-29 00:00:00'), utc('2112-02-29 00:00:00')]);
  // `*/28` is 1 and 29, ANDed with Monday because it starts with `*`.
  assert.deepEqual(ticks('0 0 */28 2 1', '2038-02-02T00:00:00Z', 2), [utc('2044-02-01 00:00:00'), utc('2044-02-29 00:00:00')]);
});

// Unsatisfiable cases from lawcal/crondst tests/test_crondst.py, test_expression_without_triggers.
test('an expression that can never match returns null, and fast', () => {
  for (const expr of ['* * 30 2 *', '* * 31 2 *', '* * 31 4 *', '* * 31 11 *', '* * 30 2 */1', '0 0 31 2,4,6,9,11 */1']) {
    const started = performance.now();
    assert.equal(schedule(expr).next(Date.parse('2026-01-01T00:00:00Z')), null, expr);
    assert.ok(performance.now() - started < 500, `${expr} took ${performance.now() - started} ms`);
  }
});

test('restricting both day fields makes them OR, so Feb 30 with a weekday still fires', () => {
  // crondst test_expression_without_triggers: '* * 30 2 6,*/1' is valid (dow does not start with `*`).
  assert.deepEqual(ticks('0 0 30 2 6,*/1', '2026-01-01T00:00:00Z', 1), [utc('2026-02-01 00:00:00')]);
});
