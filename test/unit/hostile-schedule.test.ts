/**
 * The next-tick engine on whatever the parser lets through: every schedule
 * answers quickly with a tick strictly after the instant asked about, or
 * null; the tick matches the expression on the zone's wall clock (or is a
 * spring-forward jump of a fixed-time job); no tick is skipped in between;
 * and in UTC it agrees with cron-parser wherever the two share semantics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CronExpressionParser } from 'cron-parser';
import { parseScheduleText } from '../../src/daemon/crontab/parse.js';
import type { CronFields, ScheduleSpec } from '../../src/daemon/crontab/types.js';
import { formatTick, isFixedTime, nextTicks, scheduleFor, type Schedule } from '../../src/daemon/schedule/index.js';
import { offsetAt } from '../../src/daemon/schedule/zone.js';
import { ZONES, cronExpression, scheduleExpression, schedule as scheduleArb } from '../helpers/crontab-arbitraries.js';

/** Date's range: the engine must never hand out an instant outside it. */
const MAX_DATE_MS = 8.64e15;
/** One call must stay far below this, whatever the expression (the calendar repeats every 400 years). */
const CALL_BUDGET_MS = 1500;

const instant = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2300, 0, 1) });
const RUNS = { numRuns: 400, seed: 5_0004 };

function specOf(text: string): ScheduleSpec | null {
  const parsed = parseScheduleText(text);
  return parsed.ok ? parsed.spec : null;
}

function timedNext(s: Schedule, from: number, what: string): number | null {
  const started = performance.now();
  const tick = s.next(from);
  const ms = performance.now() - started;
  assert.ok(ms < CALL_BUDGET_MS, `${what}: next() took ${ms.toFixed(0)} ms`);
  return tick;
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
  monthLength: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Date.UTC, but years 0-99 are those years, not 1900-1999. */
function utc(year: number, month0: number, day: number, hour = 0, minute = 0, second = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

/** Where Intl's wall clock can be the oracle: it has no year 0 and shows 1 BC as year 1. */
const INTL_FROM_MS = utc(2, 0, 1);

/** The zone's wall clock at an instant, straight from Intl: independent of the engine's own zone code. */
function wallAt(ms: number, tz: string): Wall & { offsetMs: number } {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = utc(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return {
    year: p.year,
    month: p.month,
    day: p.day,
    hour: p.hour,
    minute: p.minute,
    second: p.second,
    weekday: new Date(utc(p.year, p.month - 1, p.day)).getUTCDay(),
    monthLength: new Date(utc(p.year, p.month, 0)).getUTCDate(),
    offsetMs: asUtc - Math.floor(ms / 1000) * 1000,
  };
}

/** The expression's meaning (README, "The crontab file"), written out from the parsed fields. */
function matches(f: CronFields, w: Wall): boolean {
  if (!f.second.values.includes(w.second) || !f.minute.values.includes(w.minute) || !f.hour.values.includes(w.hour) || !f.month.values.includes(w.month)) return false;
  const dom = f.dom.values.includes(w.day) || (f.dom.last && w.day === w.monthLength);
  const dow =
    f.dow.values.includes(w.weekday) ||
    (f.dow.lastOf.includes(w.weekday) && w.day + 7 > w.monthLength) ||
    f.dow.nth.some(([d, n]) => d === w.weekday && Math.ceil(w.day / 7) === n);
  return f.dom.star || f.dow.star ? dom && dow : dom || dow;
}

/** A spring-forward jump: the offset grows at `ms`, by less than three hours (Debian's DST limit). */
function isJump(ms: number, tz: string): boolean {
  const shift = wallAt(ms, tz).offsetMs - wallAt(ms - 1000, tz).offsetMs;
  return shift > 0 && shift < 3 * 3_600_000;
}

test('next() is strictly later or null, a whole second, quick, formattable, and matches the expression', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(scheduleArb, fc.constantFrom(...ZONES), instant, fc.double({ min: 0, max: 1, noNaN: true }), (text, tz, from, r) => {
      const spec = specOf(text);
      // Every generated cron expression is valid; durations include some `@every` refuses (500ms).
      if (spec === null) return assert.match(text, /^@(every|delay) /);
      const s = scheduleFor(spec, tz);
      if (s === null) return; // @delay and @reboot: the scheduler makes their ticks
      const what = `'${text}' in ${tz} after ${new Date(from).toISOString()}`;
      const tick = timedNext(s, from, what);
      if (tick === null) {
        assert.equal(spec.kind, 'cron', `${what}: only a cron expression can run out of ticks`);
        return;
      }
      assert.ok(tick > from, `${what}: ${tick} is not after ${from}`);
      assert.ok(tick <= MAX_DATE_MS && tick % 1000 === 0, `${what}: ${tick}`);
      assert.doesNotThrow(() => formatTick(tick, tz));
      if (spec.kind === 'cron') {
        const fits = matches(spec.fields, wallAt(tick, tz)) || (isFixedTime(spec.fields) && isJump(tick, tz));
        assert.ok(fits, `${what}: ${formatTick(tick, tz)} does not match`);
      }
      // Nothing in between: asking from any instant before the tick gives the same tick.
      const between = from + Math.floor(r * (tick - from));
      assert.equal(timedNext(s, between, what), tick, `${what}: from ${new Date(between).toISOString()}`);
    }),
    RUNS,
  );
});

test('a chain of ticks only moves forward, even for mutated expressions and extreme instants', { timeout: 60_000 }, () => {
  const extreme = fc.oneof(
    instant,
    fc.integer({ min: -MAX_DATE_MS, max: MAX_DATE_MS }),
    fc.constantFrom(0, -1, MAX_DATE_MS - 1000, MAX_DATE_MS - 86_400_000 * 400, -MAX_DATE_MS, Date.UTC(0, 0, 1), Date.UTC(10_000, 0, 1)),
  );
  fc.assert(
    fc.property(scheduleExpression, fc.constantFrom(...ZONES), extreme, (text, tz, from) => {
      const spec = specOf(text);
      if (spec === null) return;
      const s = scheduleFor(spec, tz);
      if (s === null) return;
      const what = `'${text}' in ${tz} after ${from}`;
      let after = from;
      for (let i = 0; i < 3; i++) {
        const tick = timedNext(s, after, what);
        if (tick === null) break;
        // Past Date's end a cron tick is still a number the engine can format; @every says null there.
        assert.ok(tick > after && Number.isSafeInteger(tick), `${what}: tick ${tick} after ${after}`);
        if (spec.kind === 'every') assert.ok(tick <= MAX_DATE_MS, what);
        assert.doesNotThrow(() => formatTick(tick, tz), what);
        if (spec.kind === 'cron' && tick >= INTL_FROM_MS && tick <= MAX_DATE_MS) {
          const fits = matches(spec.fields, wallAt(tick, tz)) || (isFixedTime(spec.fields) && isJump(tick, tz));
          assert.ok(fits, `${what}: ${formatTick(tick, tz)} does not match`);
        }
        after = tick;
      }
    }),
    RUNS,
  );
});

/**
 * The shared subset with cron-parser (see schedule-oracle.test.ts): digits
 * only (no names, L, # or ?), no `N/step` in day-of-week (cron-parser runs
 * it on to 7), and a `*`-led day field other than `*` only when the other
 * day field is `*` too (Vixie ANDs, cron-parser ORs).
 */
function inSharedSubset(expr: string): boolean {
  if (/[^0-9*,\/\- ]/.test(expr)) return false;
  const fields = expr.split(' ');
  const [dom, dow] = fields.slice(-3, -2).concat(fields.slice(-1));
  if (/(^|,)\d+\/\d+/.test(dow)) return false;
  const oddStar = (f: string) => f.startsWith('*') && f !== '*';
  if ((oddStar(dom) && dow !== '*') || (oddStar(dow) && dom !== '*')) return false;
  return true;
}

function cronParserTicks(expr: string, fromMs: number, n: number): number[] | null {
  try {
    const it = CronExpressionParser.parse(expr, { currentDate: new Date(fromMs), tz: 'UTC' });
    return Array.from({ length: n }, () => it.next().toDate().getTime());
  } catch {
    return null; // rejects duplicates in lists and gives up on sparse expressions: nothing to compare
  }
}

test('in UTC, agrees with cron-parser on random expressions in the shared subset', { timeout: 60_000 }, () => {
  let compared = 0;
  fc.assert(
    fc.property(cronExpression, instant, (expr, from) => {
      fc.pre(inSharedSubset(expr));
      const theirs = cronParserTicks(expr, from, 3);
      fc.pre(theirs !== null);
      const spec = specOf(expr);
      assert.ok(spec && spec.kind === 'cron', expr);
      const ours = nextTicks(scheduleFor(spec, 'UTC')!, from, 3);
      assert.deepEqual(ours.map((t) => new Date(t).toISOString()), theirs.map((t) => new Date(t).toISOString()), `'${expr}' after ${new Date(from).toISOString()}`);
      compared++;
    }),
    { numRuns: 400, seed: 5_0004 },
  );
  assert.ok(compared >= 100, `only ${compared} expressions compared`);
});

test('at the ends of time: zones keep their edge offsets, @every past Date\'s end never fires', () => {
  const LMT_BERLIN = 53 * 60_000 + 28_000;
  const year = (y: number) => new Date(0).setUTCFullYear(y, 6, 1);
  // Years 1-99 (which Date.UTC reads as 1901-1999) and BC (which Intl prints as AD) were garbage.
  for (const y of [-100, 0, 1, 50, 99]) assert.equal(offsetAt('Europe/Berlin', year(y)), LMT_BERLIN, `year ${y}`);
  // West of Greenwich the first hours of UTC year 1 are still 1 BC on the wall.
  const LMT_SANTIAGO = -(4 * 3_600_000 + 42 * 60_000 + 45_000);
  for (const y of [-100, 0, 1, 2, 50]) assert.equal(offsetAt('America/Santiago', new Date(0).setUTCFullYear(y, 0, 1)), LMT_SANTIAGO, `year ${y}`);
  assert.equal(offsetAt('Europe/Berlin', year(2026)), 2 * 3_600_000);
  assert.equal(formatTick(year(50), 'Europe/Berlin'), '0050-07-01T00:53:28+00:53:28');
  for (const from of [-MAX_DATE_MS, MAX_DATE_MS - 1000, MAX_DATE_MS]) {
    const tick = scheduleFor(specOf('0 0 * * *')!, 'Europe/Berlin')!.next(from);
    assert.ok(tick !== null && tick > from, String(from));
    assert.doesNotThrow(() => formatTick(tick, 'Europe/Berlin'));
  }
  assert.equal(scheduleFor(specOf('@every 9007199254740s')!, 'UTC')!.next(Date.now()), null);
  assert.equal(scheduleFor(specOf('@every 8000000000000s')!, 'UTC')!.next(0), 8e15);
});
