import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCronExpression } from '../../src/daemon/crontab/fields.js';
import type { CronFields } from '../../src/daemon/crontab/types.js';

function fields(text: string): CronFields {
  const result = parseCronExpression(text);
  if (!result.ok) assert.fail(`${text}: ${result.message} at column ${result.column}`);
  return result.fields;
}

function failure(text: string): { column: number; message: string; text: string } {
  const result = parseCronExpression(text);
  if (result.ok) assert.fail(`${text} parsed but should not`);
  return { column: result.column, message: result.message, text: result.text };
}

const range = (lo: number, hi: number, step = 1): number[] => {
  const values: number[] = [];
  for (let v = lo; v <= hi; v += step) values.push(v);
  return values;
};

test('five fields: seconds default to a fixed 0', () => {
  const f = fields('30 4 * * *');
  assert.deepEqual(f.second, { text: '0', star: false, values: [0] });
  assert.equal(f.hasSeconds, false);
  assert.deepEqual(f.minute.values, [30]);
  assert.deepEqual(f.hour.values, [4]);
  assert.deepEqual(f.dom.values, range(1, 31));
  assert.deepEqual(f.month.values, range(1, 12));
  assert.deepEqual(f.dow.values, range(0, 6));
});

test('six fields put seconds first', () => {
  const f = fields('*/15 0 12 * * *');
  assert.equal(f.hasSeconds, true);
  assert.deepEqual(f.second, { text: '*/15', star: true, values: [0, 15, 30, 45] });
  assert.deepEqual(f.minute.values, [0]);
  assert.deepEqual(f.hour.values, [12]);
});

test('lists, ranges and steps', () => {
  assert.deepEqual(fields('1,5,3 * * * *').minute.values, [1, 3, 5]);
  assert.deepEqual(fields('10-14 * * * *').minute.values, [10, 11, 12, 13, 14]);
  assert.deepEqual(fields('*/20 * * * *').minute.values, [0, 20, 40]);
  assert.deepEqual(fields('0 9-17/4 * * *').hour.values, [9, 13, 17]);
  assert.deepEqual(fields('0 0-5,20-23/2 * * *').hour.values, [0, 1, 2, 3, 4, 5, 20, 22]);
  assert.deepEqual(fields('0 0 */10 * *').dom.values, [1, 11, 21, 31]);
});

test('values come out ascending without duplicates', () => {
  assert.deepEqual(fields('5,1,5,1-3 * * * *').minute.values, [1, 2, 3, 5]);
});

test('N/step runs from N to the end of the field', () => {
  assert.deepEqual(fields('5/15 * * * *').minute.values, [5, 20, 35, 50]);
  assert.deepEqual(fields('0 0 * 3/4 *').month.values, [3, 7, 11]);
});

test('mon/2 stops at Saturday: Mon, Wed, Fri', () => {
  assert.deepEqual(fields('0 0 * * mon/2').dow.values, [1, 3, 5]);
  assert.deepEqual(fields('0 0 * * 1/2').dow.values, [1, 3, 5]);
  assert.deepEqual(fields('0 0 * * */2').dow.values, [0, 2, 4, 6]);
});

test('day-of-week 7 is Sunday and folds to 0', () => {
  assert.deepEqual(fields('0 0 * * 7').dow.values, [0]);
  assert.deepEqual(fields('0 0 * * 0,7').dow.values, [0]);
  assert.deepEqual(fields('0 0 * * 5-7').dow.values, [0, 5, 6]);
  assert.deepEqual(fields('0 0 * * 7/2').dow.values, [0, 2, 4, 6]);
});

test('month and day names in any case, in lists and ranges', () => {
  assert.deepEqual(fields('0 0 1 jan,JUL,Dec *').month.values, [1, 7, 12]);
  assert.deepEqual(fields('0 0 1 mar-may *').month.values, [3, 4, 5]);
  assert.deepEqual(fields('0 0 * * Mon-FRI').dow.values, [1, 2, 3, 4, 5]);
  assert.deepEqual(fields('0 0 * * sun,sat').dow.values, [0, 6]);
  assert.deepEqual(fields('0 0 * * thu-sat/2').dow.values, [4, 6]);
});

test('star follows Vixie: any field text starting with * or ? is unrestricted', () => {
  const f = fields('0 0 */2 * 1');
  assert.equal(f.dom.star, true);
  assert.deepEqual(f.dom.values, range(1, 31, 2));
  assert.equal(f.dow.star, false);
  assert.deepEqual(f.dow.values, [1]);
  assert.equal(fields('0 0 1-31 * *').dom.star, false);
  assert.equal(fields('0 0 * * *,1').dow.star, true);
  assert.equal(fields('0 0 1,*/2 * *').dom.star, false);
});

test('? is * in day-of-month and day-of-week', () => {
  const f = fields('0 0 ? * ?');
  assert.deepEqual({ star: f.dom.star, values: f.dom.values }, { star: true, values: range(1, 31) });
  assert.deepEqual({ star: f.dow.star, values: f.dow.values }, { star: true, values: range(0, 6) });
  assert.deepEqual(failure('? * * * *'), {
    column: 1,
    message: "'?' is only allowed in day-of-month and day-of-week",
    text: '?',
  });
});

test('L in day-of-month, alone or in a list', () => {
  const alone = fields('0 0 L * *').dom;
  assert.deepEqual(alone, { text: 'L', star: false, values: [], last: true });
  const listed = fields('0 0 1,15,L * *').dom;
  assert.deepEqual(listed, { text: '1,15,L', star: false, values: [1, 15], last: true });
  assert.equal(fields('0 0 1 * *').dom.last, false);
});

test('nL in day-of-week: last such weekday of the month', () => {
  const dow = fields('0 0 * * 5L').dow;
  assert.deepEqual(dow, { text: '5L', star: false, values: [], lastOf: [5], nth: [] });
  assert.deepEqual(fields('0 0 * * friL,7L').dow.lastOf, [0, 5]);
});

test('n#k in day-of-week: kth such weekday of the month', () => {
  const dow = fields('0 0 * * 1#2,mon#1,1#2').dow;
  assert.deepEqual(dow.nth, [
    [1, 1],
    [1, 2],
  ]);
  assert.deepEqual(dow.values, []);
  assert.deepEqual(fields('0 0 * * 7#5,1-2').dow, { text: '7#5,1-2', star: false, values: [1, 2], lastOf: [], nth: [[0, 5]] });
});

test('out-of-range values name the field, the value and the column', () => {
  assert.deepEqual(failure('0 24 * * *'), { column: 3, message: 'hour 24 out of range 0-23', text: '24' });
  assert.deepEqual(failure('60 * * * *'), { column: 1, message: 'minute 60 out of range 0-59', text: '60' });
  assert.deepEqual(failure('60 0 * * * *'), { column: 1, message: 'second 60 out of range 0-59', text: '60' });
  assert.deepEqual(failure('0 0 0 * *'), { column: 5, message: 'day-of-month 0 out of range 1-31', text: '0' });
  assert.deepEqual(failure('0 0 1 13 *'), { column: 7, message: 'month 13 out of range 1-12', text: '13' });
  assert.deepEqual(failure('0 0 * * 1,8'), { column: 11, message: 'day-of-week 8 out of range 0-7', text: '8' });
  assert.deepEqual(failure('0 1-30 * * *'), { column: 5, message: 'hour 30 out of range 0-23', text: '30' });
});

test('reversed ranges are errors located at the range', () => {
  assert.deepEqual(failure('0 5-1 * * *'), { column: 3, message: 'reversed range 5-1 in hour', text: '5-1' });
  assert.deepEqual(failure('0 0 * * fri-mon'), { column: 9, message: 'reversed range fri-mon in day-of-week', text: 'fri-mon' });
});

test('step 0 and malformed steps are errors at the step', () => {
  assert.deepEqual(failure('*/0 * * * *'), { column: 3, message: 'step 0 in minute: a step must be 1 or more', text: '0' });
  assert.deepEqual(failure('0 1-5/x * * *'), { column: 7, message: "invalid step 'x' in hour", text: 'x' });
  assert.deepEqual(failure('*/ * * * *'), { column: 3, message: "invalid step '' in minute", text: '' });
});

test('unknown names and junk are errors at the token', () => {
  assert.deepEqual(failure('0 0 1 jum *'), { column: 7, message: "unknown month name 'jum'", text: 'jum' });
  assert.deepEqual(failure('0 0 * * mon-fry'), { column: 13, message: "unknown day-of-week name 'fry'", text: 'fry' });
  assert.deepEqual(failure('0 0 * jan mon#x'), { column: 15, message: "occurrence '#x' out of range 1-5", text: 'x' });
  assert.deepEqual(failure('0 0 * * mon#6'), { column: 13, message: "occurrence '#6' out of range 1-5", text: '6' });
  assert.deepEqual(failure('x * * * *'), { column: 1, message: "invalid minute value 'x'", text: 'x' });
  assert.deepEqual(failure('0 mon * * *'), { column: 3, message: "invalid hour value 'mon'", text: 'mon' });
  assert.deepEqual(failure('0 5- * * *'), { column: 5, message: 'missing hour value', text: '' });
  assert.deepEqual(failure('0 0 1,,2 * *'), { column: 7, message: 'empty item in day-of-month list', text: ',' });
});

test('L and # only where they mean something, and never with a step', () => {
  assert.equal(failure('L * * * *').message, "invalid minute value 'L'");
  assert.equal(failure('0 0 * * L').message, "unknown day-of-week name 'L'");
  assert.deepEqual(failure('0 0 L/2 * *'), { column: 6, message: "a step cannot follow 'L'", text: '/2' });
  assert.equal(failure('0 0 * * 5L/2').message, "a step cannot follow '5L'");
  assert.equal(failure('0 0 * * 8L').message, 'day-of-week 8 out of range 0-7');
});

test('the field count must be 5 or 6', () => {
  assert.deepEqual(failure('* * *'), { column: 1, message: 'expected 5 or 6 fields, got 3', text: '* * *' });
  assert.deepEqual(failure('* * * * * * *'), { column: 13, message: 'expected 5 or 6 fields, got 7', text: '*' });
  assert.equal(failure('').message, 'expected 5 or 6 fields, got 0');
});

test('columns count characters and survive tabs and leading blanks', () => {
  assert.equal(failure('  0\t24 * * *').column, 5);
});
