/**
 * fast-check arbitraries for hostile crontab input: valid lines to start
 * from, and mutations that turn them into what a careless edit, a binary
 * file or an attacker would feed the parser.
 */
import fc from 'fast-check';

/** Zones with and without DST, odd offsets, and a southern-hemisphere one. */
export const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Apia', 'America/Santiago'] as const;

interface FieldRange {
  min: number;
  max: number;
  names?: readonly string[];
}

const SECOND: FieldRange = { min: 0, max: 59 };
const MINUTE = SECOND;
const HOUR: FieldRange = { min: 0, max: 23 };
const DOM: FieldRange = { min: 1, max: 31 };
const MONTH: FieldRange = { min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] };
const DOW: FieldRange = { min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] };

function value(f: FieldRange): fc.Arbitrary<string> {
  const numeric = fc.integer({ min: f.min, max: f.max }).map(String);
  if (!f.names) return numeric;
  const names = f.names;
  return fc.oneof(numeric, fc.constantFrom(...names), fc.constantFrom(...names).map((n) => n.toUpperCase()));
}

function item(f: FieldRange): fc.Arbitrary<string> {
  const step = fc.integer({ min: 1, max: 30 });
  const range = fc.tuple(fc.integer({ min: f.min, max: f.max }), fc.integer({ min: f.min, max: f.max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  return fc.oneof(
    { weight: 4, arbitrary: value(f) },
    { weight: 3, arbitrary: range },
    { weight: 2, arbitrary: fc.tuple(range, step).map(([r, s]) => `${r}/${s}`) },
    { weight: 2, arbitrary: fc.tuple(value(f), step).map(([v, s]) => `${v}/${s}`) },
    { weight: 2, arbitrary: step.map((s) => `*/${s}`) },
  );
}

function field(f: FieldRange): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('*') },
    { weight: 5, arbitrary: fc.array(item(f), { minLength: 1, maxLength: 4 }).map((items) => items.join(',')) },
  );
}

const domField = fc.oneof({ weight: 6, arbitrary: field(DOM) }, { weight: 1, arbitrary: fc.constantFrom('L', '?', 'l', '15,L') });
const dowField = fc.oneof(
  { weight: 6, arbitrary: field(DOW) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.integer({ min: 0, max: 7 }).map((d) => `${d}L`),
      fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 5 })).map(([d, n]) => `${d}#${n}`),
      fc.constantFrom('?', 'fri#2', 'MONL', '1-5,0#1'),
    ),
  },
);

/** A valid five- or six-field cron expression. */
export const cronExpression: fc.Arbitrary<string> = fc
  .tuple(fc.boolean(), field(SECOND), field(MINUTE), field(HOUR), domField, field(MONTH), dowField)
  .map(([seconds, s, ...five]) => (seconds ? [s, ...five] : five).join(' '));

export const duration: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }).map((n) => `${n}s`),
  fc.integer({ min: 1, max: 5000 }).map((n) => `${n}m`),
  fc.tuple(fc.integer({ min: 0, max: 48 }), fc.integer({ min: 1, max: 59 })).map(([h, m]) => `${h}h${m}m`),
  fc.integer({ min: 1, max: 400 }).map((n) => `${n}d`),
  fc.constantFrom('500ms', '1s', '90s', '1h30m', '2d'),
);

/** Anything a job line may start with. */
export const schedule: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: cronExpression },
  { weight: 1, arbitrary: fc.constantFrom('@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly', '@reboot') },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('@every', '@delay'), duration).map(([at, d]) => `${at} ${d}`) },
);

const command: fc.Arbitrary<string> = fc.constantFrom(
  'echo hi',
  '/usr/bin/true',
  'date +\\%F >> /tmp/x',
  'cat%line one%line two',
  'printf "a b" # not a comment',
  "sh -c 'exit 3'",
  'FOO=bar env',
  '* * * * *',
);

export const jobLine: fc.Arbitrary<string> = fc.tuple(schedule, fc.constantFrom(' ', '\t', '  '), command).map(([s, sep, c]) => `${s}${sep}${c}`);

const KEYS = ['name', 'tz', 'timeout', 'overlap', 'retries', 'retry-delay', 'catchup', 'on-lost', 'failover', 'hosts', 'mode', 'jitter', 'max-output', 'on-failure', 'on-failure-webhook', 'cwd'];
const VALUES = ['backup', 'a..b', 'job-1', 'Europe/Berlin', '10m', 'skip', 'queue', '3', '1MiB', '64KiB', 'kill', 'finish', 'rerun', 'role=web', 'all', '"notify me"', 'http://127.0.0.1:1/x', '/tmp', '0', '-1', ''];

/** Printable and hostile characters: NUL, controls, quotes, a lone surrogate, astral and right-to-left text. */
export const hostileChar: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('*', '/', ',', '-', '#', 'L', '?', '@', '%', '=', '"', "'", '\\', ' ', '\t', '\r', '\0', '\x1b', '\u00a0', '\u2028', '\ufeff', '\ud800', '\udfff', '😀', '\u202e', 'ß', '9'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
);

const directiveValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...VALUES),
  fc.string({ unit: hostileChar, maxLength: 12 }),
  fc.string({ maxLength: 12 }).map((s) => `"${s.replace(/"/g, '\\"')}"`),
  fc.constantFrom('../etc', 'a/b', "x'; DROP TABLE runs; --", 'é', '\0', 'x'.repeat(200), '9'.repeat(40), '1e309', 'NaN'),
);

export const directiveLine: fc.Arbitrary<string> = fc
  .array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), directiveValue), { minLength: 0, maxLength: 4 })
  .map((pairs) => ['#dcron', ...pairs.map(([k, v]) => `${k}=${v}`)].join(' '));

export const envLine: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('SHELL', 'CRON_TZ', 'TZ', 'MAILTO', 'PATH', 'X'), fc.constantFrom('=', ' = ', '='), fc.oneof(fc.constantFrom(...ZONES, '/bin/bash', '"a b"', "'q'", '', 'Nowhere/City', 'UTC+5'), fc.string({ unit: hostileChar, maxLength: 10 }))).map(
    ([name, eq, v]) => `${name}${eq}${v}`,
  ),
);

const otherLine: fc.Arbitrary<string> = fc.constantFrom('', '   ', '# a comment', '# dcron name=x', '\t# indented comment');

/** A line as written in a crontab, before any mutation. */
export const validishLine: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: jobLine },
  { weight: 3, arbitrary: directiveLine },
  { weight: 2, arbitrary: envLine },
  { weight: 1, arbitrary: otherLine },
);

type Mutation = (s: string) => string;

/** One edit at a position chosen by the arbitrary, so shrinking finds the smallest breaking edit. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), hostileChar).map(([at, c]): Mutation => (s) => s.slice(0, at % (s.length + 1)) + c + s.slice(at % (s.length + 1))),
  fc.nat().map((at): Mutation => (s) => (s.length === 0 ? s : s.slice(0, at % s.length) + s.slice((at % s.length) + 1))),
  fc.tuple(fc.nat(), hostileChar).map(([at, c]): Mutation => (s) => (s.length === 0 ? c : s.slice(0, at % s.length) + c + s.slice((at % s.length) + 1))),
  fc.tuple(fc.nat(), fc.constantFrom('99999999999999999999', '4294967296', '-1', '1e3', '0x10', '9007199254740993', '00000000000000000000007')).map(
    ([at, n]): Mutation => (s) => s.slice(0, at % (s.length + 1)) + n + s.slice(at % (s.length + 1)),
  ),
  fc.nat().map((at): Mutation => (s) => s.slice(0, at % (s.length + 1))),
  fc.tuple(fc.nat(), fc.nat({ max: 3 })).map(([at, times]): Mutation => (s) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + s.slice(i).repeat(times + 1);
  }),
);

export const mutatedLine: fc.Arbitrary<string> = fc
  .tuple(validishLine, fc.array(mutation, { maxLength: 4 }))
  .map(([line, edits]) => edits.reduce((s, edit) => edit(s), line))
  // A line never contains its own terminator: the file's lines are joined with \n.
  .map((s) => s.replace(/\n/g, ' '));

/** Lines that are not mutations of anything: raw bytes read as UTF-8 and as Latin-1, any code units. */
export const garbageLine: fc.Arbitrary<string> = fc
  .oneof(
    fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
    fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
  )
  .map((s) => s.replace(/\n/g, ' '));

/** Very long lines: long lists, long commands, long names, long numbers. */
export const longLine: fc.Arbitrary<string> = fc.integer({ min: 1_000, max: 60_000 }).chain((n) =>
  fc.constantFrom(
    `${Array.from({ length: n }, (_, i) => i % 60).join(',')} * * * * echo long list`,
    `* * * * * echo ${'x'.repeat(n)}`,
    `#dcron name=${'a'.repeat(n)}`,
    `${'9'.repeat(n)} * * * * echo`,
    `${'*/1,'.repeat(n)}* * * * * echo`,
    `@every ${'9'.repeat(Math.min(n, 400))}s echo`,
    `X=${'"'.repeat(n)}`,
    `#dcron on-failure="${'\\"'.repeat(n)}"`,
  ),
);

export const anyLine: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: validishLine },
  { weight: 20, arbitrary: mutatedLine },
  { weight: 4, arbitrary: garbageLine },
  { weight: 1, arbitrary: longLine },
);

/** A whole file: lines, LF or CRLF, with or without a BOM and a final newline. */
export const crontabText: fc.Arbitrary<string> = fc
  .tuple(fc.array(anyLine, { maxLength: 12 }), fc.boolean(), fc.boolean(), fc.boolean())
  .map(([lines, crlf, bom, finalNewline]) => (bom ? '\ufeff' : '') + lines.join(crlf ? '\r\n' : '\n') + (finalNewline && lines.length > 0 ? '\n' : ''));

/** A schedule alone, as `dcron next` takes it, possibly mutated. */
export const scheduleExpression: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: schedule },
  { weight: 5, arbitrary: fc.tuple(schedule, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([s, edits]) => edits.reduce((t, edit) => edit(t), s)) },
  { weight: 1, arbitrary: garbageLine },
);
