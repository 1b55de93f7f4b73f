/**
 * The option schema holds the bounds of every `#dcron` key once; these
 * properties check that the directive parser and the etcd record decoder,
 * both reading through it, agree on every key: a value one accepts the other
 * accepts too, and a value one refuses the other refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import { applyDirective, defaultSettings, DEFAULT_SETTINGS } from '../../src/daemon/crontab/directive-keys.js';
import { DIRECTIVE_KEYS, OPTION_KEYS, type DirectiveKey } from '../../src/daemon/crontab/option-schema.js';
import { decodeJobRecord, encodeJobRecord, JobRecordError, type JobRecord } from '../../src/daemon/coordination/etcd/job-record.js';
import { MAX_TIMER_MS } from '../../src/daemon/config/timer-limit.js';
import { ZONES } from '../helpers/crontab-arbitraries.js';

const [def] = parseCrontab('#dcron name=base\n*/5 * * * * echo hi\n', { file: '/etc/dcron/crontab', defaultTz: 'UTC' }).jobs;
const base: JobRecord = { v: 2, def, writer: 'node-a', file: '/etc/dcron/crontab', fileHash: 'abc', writtenMs: 1_700_000_000_000 };

/** The record's value of `spec`'s field. */
function fieldOf(record: JobRecord, spec: DirectiveKey): unknown {
  return spec.on === 'job' ? record.def[spec.field] : record.def.options[spec.field];
}

/** `base` with `spec`'s field stored as `value`, as another host would write it; null when the decoder refuses it. */
function decodedWith(spec: DirectiveKey, value: unknown): JobRecord | null {
  const wire = JSON.parse(encodeJobRecord(base));
  if (spec.on === 'job') wire.def[spec.field] = value;
  else wire.def.options[spec.field] = value;
  const job = spec.field === 'name' && typeof value === 'string' ? value : 'base';
  try {
    return decodeJobRecord(job, JSON.stringify(wire));
  } catch (err) {
    if (err instanceof JobRecordError) return null;
    throw err;
  }
}

/** The value a directive `key=text` sets; null when the parser refuses it. */
function directiveValue(spec: DirectiveKey, text: string): unknown {
  const settings = defaultSettings();
  if (!applyDirective(settings, spec.key, text).ok) return null;
  return spec.on === 'job' ? settings[spec.field] : settings.options[spec.field];
}

const UNITS = ['', 'd', 'h', 'm', 's', 'ms', 'KiB', 'MiB', 'GiB', 'kb', 'MB', 'B'];
const WORDS = ['skip', 'allow', 'queue', 'replace', 'kill', 'finish', 'none', 'rerun', 'once', 'all', 'Skip', 'ALL', ''];

/** `requires=` terms: known and unknown figures, every comparison and a few wrong ones, sizes and loads near the bounds. */
const requirementTerm = fc
  .tuple(
    fc.constantFrom('mem', 'load', 'disk', 'MEM', 'cpu', ''),
    fc.constantFrom('>=', '>', '<=', '<', '=', '=>', ''),
    fc.oneof(fc.nat(5000).map(String), fc.double({ min: 0, max: 2e6, noNaN: true }).map((n) => n.toFixed(3)), fc.constantFrom('0.75', '1000000', '1000000.01', '2e3')),
    fc.constantFrom('', 'G', 'GiB', 'MiB', 'KB', 'TB', 'XB'),
  )
  .map(([figure, op, n, unit]) => `${figure}${op}${n}${unit}`);

/** Directive text of every shape some key takes, near and past each kind's bounds. */
const directiveText = fc.oneof(
  fc.array(requirementTerm, { minLength: 1, maxLength: 4 }).map((terms) => terms.join(',')),
  fc.string(),
  fc.tuple(fc.oneof(fc.nat(200), fc.nat(), fc.constantFrom(24, 2 ** 31, MAX_TIMER_MS, MAX_TIMER_MS + 1, Number.MAX_SAFE_INTEGER)), fc.constantFrom(...UNITS)).map(([n, unit]) => `${n}${unit}`),
  fc.constantFrom(...WORDS, ...ZONES, 'Mars/Olympus', '/srv/app', 'srv/app', ' ', 'https://example.com/hook', 'ftp://example.com', 'http://'),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._\/ -]{0,140}$/),
  fc.webUrl(),
);

/** Stored values of every JSON type, integers near each kind's bounds. */
const storedValue = fc.oneof(
  directiveText,
  fc.constantFrom(-1, 0, 1, 100, 101, 2 ** 31, MAX_TIMER_MS, MAX_TIMER_MS + 1, Number.MAX_SAFE_INTEGER, 0.5, null, true, false),
  fc.integer({ min: -5, max: 2 * MAX_TIMER_MS }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

test('MAX_TIMER_MS is below what Node timers can wait for', () => {
  assert.ok(MAX_TIMER_MS < 2 ** 31 - 1);
});

for (const spec of DIRECTIVE_KEYS) {
  test(`${spec.key}: a value a directive sets, a record carries`, () => {
    fc.assert(
      fc.property(directiveText, (text) => {
        const value = directiveValue(spec, text);
        if (value === null) return;
        const decoded = decodedWith(spec, value);
        assert.ok(decoded !== null, `${spec.key}=${JSON.stringify(text)} parses to ${JSON.stringify(value)}, which the record decoder refuses`);
        assert.deepEqual(fieldOf(decoded, spec), value);
      }),
      { numRuns: 300 },
    );
  });

  test(`${spec.key}: a value a record carries, a directive can set; one it refuses, no directive sets`, () => {
    fc.assert(
      fc.property(storedValue, (value) => {
        const decoded = decodedWith(spec, value);
        // Null is how a record says the key was absent (its default), which no directive text spells.
        // Booleans are values only of a true/false key (retry-elsewhere).
        const scalar = typeof value === 'string' || typeof value === 'number' || (typeof value === 'boolean' && typeof spec.default === 'boolean');
        if (value === null || !scalar) {
          if (value !== null || spec.default !== null || spec.on === 'job') assert.equal(decoded, null, `${spec.key}: ${JSON.stringify(value)} decoded`);
          return;
        }
        // A number given to a text key (or text to a number key) is written as whatever the kind makes of it: never the same value.
        const text = String((spec.kind.write as (v: unknown) => unknown)(value));
        const set = directiveValue(spec, text);
        if (decoded === null) assert.notDeepEqual(set, value, `${spec.key}=${JSON.stringify(text)} sets ${JSON.stringify(value)}, which the record decoder refuses`);
        else {
          // Compared with the value as decoded: JSON has no -0.
          const stored = fieldOf(decoded, spec);
          assert.deepEqual(set, stored, `the decoder takes ${JSON.stringify(stored)}; ${spec.key}=${JSON.stringify(text)} should set it`);
        }
      }),
      { numRuns: 300 },
    );
  });
}

test('the defaults are what a job without directives gets, and what a record may store', () => {
  for (const spec of OPTION_KEYS) {
    assert.deepEqual(DEFAULT_SETTINGS.options[spec.field], spec.default, spec.key);
    assert.deepEqual(fieldOf(decodedWith(spec, spec.default)!, spec), spec.default, `${spec.key}: the default decodes`);
  }
  assert.ok(Object.isFrozen(DEFAULT_SETTINGS.options), 'jobs without directives share the default options');
  assert.deepEqual(Object.keys(DEFAULT_SETTINGS.options), Object.keys(def.options), 'field order: records written so far compare equal by their JSON');
});

test('every key and every option field is in the schema once', () => {
  const keys = DIRECTIVE_KEYS.map((k) => k.key);
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(OPTION_KEYS.map((k) => k.field).sort(), Object.keys(def.options).sort());
});
