/**
 * The schedule module's entry points: scheduleFor, nextTicks, neverFires,
 * @every, isFixedTime and the phrases of `dcron ls`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCronExpression } from '../../src/daemon/crontab/fields.js';
import type { CronFields, ScheduleSpec } from '../../src/daemon/crontab/types.js';
import { CronSchedule, isFixedTime } from '../../src/daemon/schedule/cron-schedule.js';
import { describeSchedule } from '../../src/daemon/schedule/describe.js';
import { EverySchedule } from '../../src/daemon/schedule/every.js';
import { neverFires, nextTicks, scheduleFor } from '../../src/daemon/schedule/index.js';

function fields(expr: string): CronFields {
  const parsed = parseCronExpression(expr);
  assert.ok(parsed.ok, `${expr} does not parse`);
  return parsed.fields;
}

const cron = (expr: string): ScheduleSpec => ({ kind: 'cron', fields: fields(expr) });
const FROM = Date.parse('2026-05-01T10:00:00Z');

test('@every ticks at multiples of the interval since the epoch, strictly after the instant', () => {
  const every = new EverySchedule(90_000);
  assert.equal(every.next(0), 90_000);
  assert.equal(every.next(89_999), 90_000);
  assert.equal(every.next(90_000), 180_000);
  // Any two hosts asking from any instants land on the same grid.
  for (const from of [FROM, FROM + 12_345, FROM + 77_777]) assert.equal(every.next(from)! % 90_000, 0);
});

test('@every refuses intervals that are not whole positive seconds', () => {
  assert.throws(() => new EverySchedule(1500), RangeError);
  assert.throws(() => new EverySchedule(0), RangeError);
  assert.throws(() => new EverySchedule(-1000), RangeError);
});

test('scheduleFor: cron and @every have schedules; @delay and @reboot are the scheduler’s', () => {
  assert.ok(scheduleFor(cron('*/5 * * * *'), 'UTC') instanceof CronSchedule);
  assert.ok(scheduleFor({ kind: 'every', intervalMs: 60_000 }, 'UTC') instanceof EverySchedule);
  assert.equal(scheduleFor({ kind: 'delay', delayMs: 30_000 }, 'UTC'), null);
  assert.equal(scheduleFor({ kind: 'reboot' }, 'UTC'), null);
  assert.throws(() => scheduleFor(cron('* * * * *'), 'Nowhere/Atlantis'), RangeError);
});

test('nextTicks lists ticks in order and stops early when the schedule runs out', () => {
  const every5 = scheduleFor(cron('*/5 * * * *'), 'UTC');
  assert.ok(every5);
  assert.deepEqual(nextTicks(every5, FROM, 3), [FROM + 300_000, FROM + 600_000, FROM + 900_000]);
  assert.deepEqual(nextTicks(every5, FROM, 0), []);
  const never = scheduleFor(cron('0 0 30 2 *'), 'UTC');
  assert.ok(never);
  assert.deepEqual(nextTicks(never, FROM, 5), []);
});

// Cases from lawcal/crondst tests/test_crondst.py, test_expression_without_triggers.
test('neverFires flags expressions no calendar can satisfy', () => {
  for (const expr of ['* * 30 2 *', '* * 31 2 *', '* * 31 4 *', '* * 31 6 *', '* * 31 9 *', '* * 31 11 *', '* * 30 2 */1', '* * 31 2,4 */1']) {
    assert.equal(neverFires(cron(expr), 'Europe/Berlin', FROM), true, expr);
  }
  for (const expr of ['* * 29 2 *', '* * 31 12 *', '* * 30 2 6,*/1', '* * 1-31 2 */1']) {
    assert.equal(neverFires(cron(expr), 'Europe/Berlin', FROM), false, expr);
  }
  assert.equal(neverFires({ kind: 'every', intervalMs: 1000 }, 'UTC', FROM), false);
  assert.equal(neverFires({ kind: 'reboot' }, 'UTC', FROM), false);
});

test('isFixedTime: minute and hour (and written seconds) must not start with *', () => {
  const cases: Array<[string, boolean]> = [
    ['30 2 * * *', true],
    ['0 0-23/2 * * *', true],
    ['0,30 1-3 * * 1-5', true],
    ['0 * * * *', false],
    ['*/5 2 * * *', false],
    ['0 */999,1 * * *', false],
    ['0 30 2 * * *', true],
    ['*/10 30 2 * * *', false],
  ];
  for (const [expr, fixed] of cases) assert.equal(isFixedTime(fields(expr)), fixed, expr);
});

test('describeSchedule: short phrases for common shapes, the expression otherwise', () => {
  const cases: Array<[string, ScheduleSpec, string]> = [
    ['*/5 * * * *', cron('*/5 * * * *'), 'every 5 minutes'],
    ['* * * * *', cron('* * * * *'), 'every minute'],
    ['* * * * * *', cron('* * * * * *'), 'every second'],
    ['*/15 * * * * *', cron('*/15 * * * * *'), 'every 15 seconds'],
    ['@hourly', cron('0 * * * *'), 'every hour'],
    ['15 * * * *', cron('15 * * * *'), 'every hour at :15'],
    ['0 */6 * * *', cron('0 */6 * * *'), 'every 6 hours'],
    ['30 2 * * *', cron('30 2 * * *'), 'at 02:30 every day'],
    ['@daily', cron('0 0 * * *'), 'at 00:00 every day'],
    ['0 9 * * mon-fri', cron('0 9 * * mon-fri'), 'at 09:00 on Mon-Fri'],
    ['0 9,17 * * 1,3', cron('0 9,17 * * 1,3'), 'at 09:00, 17:00 on Mon, Wed'],
    ['@weekly', cron('0 0 * * 0'), 'at 00:00 on Sun'],
    ['@monthly', cron('0 0 1 * *'), 'at 00:00 on day 1 of the month'],
    ['@yearly', cron('0 0 1 1 *'), 'at 00:00 on Jan 1'],
    ['0 0 L * *', cron('0 0 L * *'), 'at 00:00 on the last day of the month'],
    ['0 8 * 6-8 *', cron('0 8 * 6-8 *'), 'at 08:00 every day in Jun-Aug'],
    ['*/10 * * * 1-5', cron('*/10 * * * 1-5'), 'every 10 minutes on Mon-Fri'],
    ['30 15 10 * * *', cron('30 15 10 * * *'), 'at 10:15:30 every day'],
    ['@every 90s', { kind: 'every', intervalMs: 90_000 }, 'every 1m30s'],
    ['@delay 30s', { kind: 'delay', delayMs: 30_000 }, '30s after each run'],
    ['@reboot', { kind: 'reboot' }, 'at daemon start'],
    // Too intricate for a phrase: shown as written.
    ['0 0 1,15 * 1', cron('0 0 1,15 * 1'), '0 0 1,15 * 1'],
    ['*/7 * * * *', cron('*/7 * * * *'), '*/7 * * * *'],
    ['0 0 * * 5L', cron('0 0 * * 5L'), '0 0 * * 5L'],
    ['5,10,20,40,50 * * * *', cron('5,10,20,40,50 * * * *'), '5,10,20,40,50 * * * *'],
  ];
  for (const [text, spec, phrase] of cases) assert.equal(describeSchedule(text, spec, 'UTC'), phrase, text);
});

test('describeSchedule names the zone when the phrase depends on the wall clock', () => {
  assert.equal(describeSchedule('30 2 * * *', cron('30 2 * * *'), 'Europe/Berlin'), 'at 02:30 every day (Europe/Berlin)');
  assert.equal(describeSchedule('*/5 * * * *', cron('*/5 * * * *'), 'Europe/Berlin'), 'every 5 minutes');
  assert.equal(describeSchedule('@every 90s', { kind: 'every', intervalMs: 90_000 }, 'Europe/Berlin'), 'every 1m30s');
});
