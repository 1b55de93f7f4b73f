/** The pure parts of backfill: which ticks a range holds, and why an instant is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCronExpression } from '../../src/daemon/crontab/fields.js';
import { BackfillRangeError, FutureTickError, NotATickError } from '../../src/daemon/errors.js';
import { EverySchedule } from '../../src/daemon/schedule/every.js';
import { scheduleFor } from '../../src/daemon/schedule/index.js';
import type { Schedule } from '../../src/daemon/schedule/types.js';
import { checkPastTick, nearestTicks, ticksInRange } from '../../src/daemon/ticks/backfill-ticks.js';

function cron(expr: string, tz = 'UTC'): Schedule {
  const parsed = parseCronExpression(expr);
  assert.ok(parsed.ok);
  return scheduleFor({ kind: 'cron', fields: parsed.fields }, tz)!;
}

const at = (iso: string): number => Date.parse(iso);

test('ticksInRange holds every tick in [from, to], both ends included, oldest first', () => {
  const hourly = cron('0 * * * *');
  assert.deepEqual(ticksInRange(hourly, at('2026-12-01T00:00:00Z'), at('2026-12-01T03:00:00Z')), [0, 1, 2, 3].map((h) => at(`2026-12-01T0${h}:00:00Z`)));
  assert.deepEqual(ticksInRange(hourly, at('2026-12-01T00:00:01Z'), at('2026-12-01T00:59:59Z')), []);
  assert.deepEqual(ticksInRange(new EverySchedule(90_000), 0, 270_000), [0, 90_000, 180_000, 270_000]);
});

test('ticksInRange follows the zone across a DST change like the scheduler does', () => {
  // 02:30 Berlin does not exist on 2026-03-29: a fixed-time job runs once at the jump (03:00 CEST = 01:00Z).
  const ticks = ticksInRange(cron('30 2 * * *', 'Europe/Berlin'), at('2026-03-28T00:00:00Z'), at('2026-03-30T23:59:59Z'));
  assert.deepEqual(ticks, [at('2026-03-28T01:30:00Z'), at('2026-03-29T01:00:00Z'), at('2026-03-30T00:30:00Z')]);
});

test('ticksInRange refuses a reversed range and one past the cap, with the error class', () => {
  const everySecond = cron('* * * * * *');
  assert.throws(() => ticksInRange(everySecond, 10_000, 0), BackfillRangeError);
  assert.throws(() => ticksInRange(everySecond, 0, 10_000_000), (err: unknown) => err instanceof BackfillRangeError && /more than 10000 ticks/.test(err.message));
  assert.equal(ticksInRange(everySecond, 0, 9_999_000).length, 10_000);
  assert.throws(() => ticksInRange(everySecond, 0, 10_000, 5), BackfillRangeError);
});

test('checkPastTick names the nearest ticks of an instant that is not a tick, and refuses the future', () => {
  const daily = cron('0 2 * * *');
  const now = at('2026-12-07T12:00:00Z');
  checkPastTick('rep', daily, at('2026-12-06T02:00:00Z'), now);
  assert.throws(
    () => checkPastTick('rep', daily, at('2026-12-06T03:00:00Z'), now),
    (err: unknown) => err instanceof NotATickError && err.before === at('2026-12-06T02:00:00Z') && err.after === at('2026-12-07T02:00:00Z') && /nearest are 2026-12-06T02:00:00.000Z and 2026-12-07T02:00:00.000Z/.test(err.message),
  );
  assert.throws(() => checkPastTick('rep', daily, at('2026-12-08T02:00:00Z'), now), FutureTickError);
  // A yearly schedule: the tick before is found a year back.
  assert.deepEqual(nearestTicks(cron('0 0 1 1 *'), at('2026-06-01T00:00:00Z')), { before: at('2026-01-01T00:00:00Z'), after: at('2027-01-01T00:00:00Z') });
});
