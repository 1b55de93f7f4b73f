import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatDiagnostic, parseCrontab, parseScheduleText } from '../../src/daemon/crontab/parse.js';
import type { Diagnostic, JobDefinition, ParseResult } from '../../src/daemon/crontab/types.js';

const OPTS = { file: 'crontab', defaultTz: 'UTC' };

function parse(text: string, opts: Partial<typeof OPTS> & { defaultShell?: string } = {}): ParseResult {
  return parseCrontab(text, { ...OPTS, ...opts });
}

/** The one job `text` defines, asserting the file is clean. */
function job(text: string): JobDefinition {
  const result = parse(text);
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.jobs.length, 1);
  return result.jobs[0];
}

/** Diagnostics without the repeated line text, for compact assertions. */
function problems(text: string): Array<Omit<Diagnostic, 'lineText' | 'file'>> {
  return parse(text).diagnostics.map(({ severity, line, column, message, text: t }) => ({ severity, line, column, message, text: t }));
}

function only(text: string): Omit<Diagnostic, 'lineText' | 'file'> {
  const found = problems(text);
  assert.equal(found.length, 1, JSON.stringify(found));
  return found[0];
}

function fixture(name: string): string {
  return readFileSync(new URL(`../../../test/fixtures/crontabs/${name}`, import.meta.url), 'utf8');
}

// --- lines, comments, file shape -------------------------------------------------------------

test('a job line: five fields and a command, with defaults everywhere', () => {
  const j = job('*/5 * * * * /usr/bin/true\n');
  assert.equal(j.scheduleText, '*/5 * * * *');
  assert.equal(j.schedule.kind, 'cron');
  assert.equal(j.command, '/usr/bin/true');
  assert.equal(j.stdin, null);
  assert.equal(j.shell, '/bin/sh');
  assert.equal(j.tz, 'UTC');
  assert.deepEqual(j.env, {});
  assert.deepEqual(j.source, { file: 'crontab', line: 1 });
  assert.deepEqual(j.options, {
    timeoutMs: null,
    overlap: 'skip',
    retries: 0,
    retryDelayMs: 10_000,
    catchupMs: 0,
    onLost: 'kill',
    failover: 'none',
    hosts: null,
    mode: 'once',
    jitterMs: 0,
    maxOutputBytes: 1_048_576,
    onFailure: null,
    onFailureWebhook: null,
    cwd: null,
    slots: 1,
    shards: 1,
    after: null,
    afterFailure: null,
    retryElsewhere: false,
    group: null,
    requires: null,
  });
});

test('blank lines and comments are ignored; a later # belongs to the command', () => {
  const result = parse('\n   \n# a comment\n  \t# indented comment\n0 1 * * * echo a # not a comment\n');
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.jobs.length, 1);
  assert.equal(result.jobs[0].command, 'echo a # not a comment');
  assert.equal(result.jobs[0].source.line, 5);
});

test('missing final newline, CRLF line ends and a BOM are all accepted', () => {
  const lf = parse('A=1\n0 1 * * * echo a\n0 2 * * * echo b');
  const crlf = parse('\uFEFFA=1\r\n0 1 * * * echo a\r\n0 2 * * * echo b\r\n');
  assert.deepEqual(lf.diagnostics, []);
  assert.deepEqual(crlf.diagnostics, []);
  assert.deepEqual(crlf.jobs, lf.jobs);
  assert.deepEqual(lf.jobs.map((j) => j.command), ['echo a', 'echo b']);
  assert.deepEqual(crlf.env, { A: '1' });
});

test('an empty file has no jobs and no diagnostics', () => {
  assert.deepEqual(parse(''), { jobs: [], env: {}, diagnostics: [] });
});

test('leading blanks, tabs and runs of spaces between fields', () => {
  const j = job('  0\t2  *\t* *   echo  spaced');
  assert.equal(j.scheduleText, '0 2 * * *');
  assert.equal(j.command, 'echo  spaced');
});

test('trailing blanks do not change the command', () => {
  assert.equal(job('0 0 * * * echo a   \t').command, 'echo a');
});

// --- six fields --------------------------------------------------------------------------------

test('six fields are detected when the first six tokens all parse as fields', () => {
  const j = job('*/10 * * * * * echo fast');
  assert.equal(j.scheduleText, '*/10 * * * * *');
  assert.equal(j.command, 'echo fast');
  assert.ok(j.schedule.kind === 'cron' && j.schedule.fields.hasSeconds);
  assert.deepEqual(j.schedule.kind === 'cron' && j.schedule.fields.second.values, [0, 10, 20, 30, 40, 50]);
});

test('a sixth token that is not a field makes a five-field line', () => {
  const j = job('0 0 * * mon echo weekly');
  assert.ok(j.schedule.kind === 'cron' && !j.schedule.fields.hasSeconds);
  assert.equal(j.command, 'echo weekly');
});

test('six field-like tokens and nothing more are five fields and a command', () => {
  const result = parse('0 0 * * * 5');
  assert.equal(result.jobs[0].command, '5');
  assert.equal(result.jobs[0].scheduleText, '0 0 * * *');
});

test('the schedule text is normalised to single spaces', () => {
  assert.equal(job('0   0 * *\t* echo x').scheduleText, '0 0 * * *');
});

// --- field errors in lines ------------------------------------------------------------------------

test('field errors are located in the line and drop only that job', () => {
  const result = parse('0 24 * * * echo bad\n0 1 * * * echo good\n');
  assert.deepEqual(result.jobs.map((j) => j.command), ['echo good']);
  assert.deepEqual(result.diagnostics, [
    {
      severity: 'error',
      file: 'crontab',
      line: 1,
      column: 3,
      message: 'hour 24 out of range 0-23',
      text: '24',
      lineText: '0 24 * * * echo bad',
    },
  ]);
});

test('field error columns account for leading blanks and tabs', () => {
  assert.deepEqual(only('\t 0 0 1 jum * x'), { severity: 'error', line: 1, column: 9, message: "unknown month name 'jum'", text: 'jum' });
  assert.deepEqual(only('0 0 * * 5-1 x'), { severity: 'error', line: 1, column: 9, message: 'reversed range 5-1 in day-of-week', text: '5-1' });
});

test('columns count characters, not UTF-16 units', () => {
  const found = only('#dcron on-failure="📣 oops" timeout=nope\n* * * * * x');
  assert.equal(found.column, 36);
});

test('incomplete job lines and missing commands', () => {
  assert.deepEqual(only('0 0 * *'), {
    severity: 'error',
    line: 1,
    column: 1,
    message: 'incomplete job line: expected five time fields and a command',
    text: '0 0 * *',
  });
  assert.deepEqual(only('0 0 * * *  '), { severity: 'error', line: 1, column: 10, message: 'missing command', text: '' });
  assert.deepEqual(only('@daily'), { severity: 'error', line: 1, column: 7, message: 'missing command', text: '' });
  assert.deepEqual(only('0 0 * * * %only stdin'), { severity: 'error', line: 1, column: 11, message: "empty command before '%'", text: '%' });
});

test('a line that is neither a job nor an assignment is an error', () => {
  assert.equal(only('hello world').message, 'incomplete job line: expected five time fields and a command');
  assert.equal(only('run the backup every night please').message, "invalid minute value 'run'");
});

// --- environment ---------------------------------------------------------------------------------

test('env lines apply to the job lines after them, as a copy', () => {
  const result = parse('0 1 * * * early\nA=1\n0 2 * * * middle\nA=2\nB=x\n0 3 * * * late\n');
  assert.deepEqual(result.jobs.map((j) => j.env), [{}, { A: '1' }, { A: '2', B: 'x' }]);
  assert.deepEqual(result.env, { A: '2', B: 'x' });
  result.jobs[1].env.A = 'mutated';
  assert.equal(result.jobs[2].env.A, '2');
});

test('env values: blanks around = dropped, matching quotes keep spaces, nothing expanded', () => {
  const text = [
    'A = spaced',
    'B="  double  "',
    "C='  single  '",
    'D=$HOME/bin:$PATH',
    'E="mismatched\'',
    'F=',
    'G = "a=b"  ',
    'H=no "inner" change',
    '"I"=quoted name',
    '0 0 * * * x',
  ].join('\n');
  assert.deepEqual(job(text).env, {
    A: 'spaced',
    B: '  double  ',
    C: '  single  ',
    D: '$HOME/bin:$PATH',
    E: '"mismatched\'',
    F: '',
    G: 'a=b',
    H: 'no "inner" change',
    I: 'quoted name',
  });
});

test('SHELL picks the shell: opts.defaultShell, then /bin/sh, when unset', () => {
  assert.equal(job('SHELL=/bin/bash\n0 0 * * * x').shell, '/bin/bash');
  assert.equal(job('SHELL=/bin/bash\n0 0 * * * x').env.SHELL, '/bin/bash');
  assert.equal(parse('0 0 * * * x', { defaultShell: '/bin/zsh' }).jobs[0].shell, '/bin/zsh');
  assert.equal(job('0 0 * * * x').shell, '/bin/sh');
});

test('CRON_TZ sets the zone of the lines after it; TZ only goes to the environment', () => {
  const result = parse('0 0 * * * a\nCRON_TZ=Asia/Tokyo\nTZ=America/New_York\n0 0 * * * b\nCRON_TZ=\n0 0 * * * c\n', {
    defaultTz: 'Europe/Berlin',
  });
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.jobs.map((j) => j.tz), ['Europe/Berlin', 'Asia/Tokyo', 'Europe/Berlin']);
  assert.deepEqual(result.jobs[1].env, { CRON_TZ: 'Asia/Tokyo', TZ: 'America/New_York' });
});

test('an unknown CRON_TZ is an error at its value, and the jobs it would govern are not loaded', () => {
  const result = parse('CRON_TZ=Europe/Pariss\n0 0 * * * a\n#dcron tz=UTC\n0 0 * * * b\nCRON_TZ="Europe/Paris"\n0 0 * * * c\n');
  assert.deepEqual(
    result.diagnostics.map(({ line, column, message, text }) => ({ line, column, message, text })),
    [
      { line: 1, column: 9, message: "unknown time zone 'Europe/Pariss'", text: 'Europe/Pariss' },
      { line: 2, column: 1, message: 'time zone unknown: CRON_TZ on line 1 is invalid', text: '0' },
    ],
  );
  assert.deepEqual(result.jobs.map((j) => [j.command, j.tz]), [
    ['b', 'UTC'],
    ['c', 'Europe/Paris'],
  ]);
  assert.equal(result.jobs[0].env.CRON_TZ, undefined);
});

// --- nicknames, @every, @delay, @reboot ------------------------------------------------------------

test('nicknames map to cron fields and keep their name as schedule text', () => {
  const expected: Record<string, [number[], number[], number[], number[], number[]]> = {
    '@yearly': [[0], [0], [1], [1], [0, 1, 2, 3, 4, 5, 6]],
    '@annually': [[0], [0], [1], [1], [0, 1, 2, 3, 4, 5, 6]],
    '@monthly': [[0], [0], [1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [0, 1, 2, 3, 4, 5, 6]],
    '@weekly': [[0], [0], Array.from({ length: 31 }, (_, i) => i + 1), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [0]],
  };
  for (const [nickname, [minute, hour, dom, month, dow]] of Object.entries(expected)) {
    const j = job(`${nickname} run`);
    assert.equal(j.scheduleText, nickname);
    assert.equal(j.command, 'run');
    assert.ok(j.schedule.kind === 'cron');
    const f = j.schedule.fields;
    assert.deepEqual([f.minute.values, f.hour.values, f.dom.values, f.month.values, f.dow.values], [minute, hour, dom, month, dow], nickname);
  }
  for (const nickname of ['@daily', '@midnight']) {
    const j = job(`${nickname} run`);
    assert.ok(j.schedule.kind === 'cron');
    assert.equal(`${j.schedule.fields.minute.text} ${j.schedule.fields.hour.text} ${j.schedule.fields.dom.text}`, '0 0 *');
    assert.equal(j.schedule.fields.dow.star, true);
  }
  const hourly = job('@hourly run');
  assert.ok(hourly.schedule.kind === 'cron');
  assert.deepEqual(hourly.schedule.fields.minute.values, [0]);
  assert.equal(hourly.schedule.fields.hour.star, true);
});

test('@reboot, @every and @delay', () => {
  assert.deepEqual(job('@reboot /usr/bin/warm-cache').schedule, { kind: 'reboot' });
  const every = job('@every 90s echo tick');
  assert.deepEqual(every.schedule, { kind: 'every', intervalMs: 90_000 });
  assert.equal(every.scheduleText, '@every 90s');
  assert.equal(every.command, 'echo tick');
  assert.deepEqual(job('@every 1h30m x').schedule, { kind: 'every', intervalMs: 5_400_000 });
  const delay = job('@delay 30s echo after');
  assert.deepEqual(delay.schedule, { kind: 'delay', delayMs: 30_000 });
  assert.equal(delay.scheduleText, '@delay 30s');
});

test('@every and @delay need a whole number of seconds, at least 1s', () => {
  assert.deepEqual(only('@every 500ms x'), { severity: 'error', line: 1, column: 8, message: '@every 500ms is shorter than 1s', text: '500ms' });
  assert.equal(only('@delay 1500ms x').message, '@delay 1500ms is not a whole number of seconds');
  assert.equal(only('@every 0 x').message, '@every 0 is shorter than 1s');
  assert.deepEqual(only('@every soon x'), {
    severity: 'error',
    line: 1,
    column: 8,
    message: "invalid duration 'soon' for @every: expected e.g. 90s, 5m or 1h30m",
    text: 'soon',
  });
  assert.deepEqual(only('@every'), { severity: 'error', line: 1, column: 1, message: '@every needs a duration, e.g. @every 90s', text: '@every' });
});

test('unknown nicknames are errors (nicknames are lower case, as in cron)', () => {
  assert.deepEqual(only('@fortnightly x'), { severity: 'error', line: 1, column: 1, message: "unknown nickname '@fortnightly'", text: '@fortnightly' });
  assert.equal(only('@Daily x').message, "unknown nickname '@Daily'");
});

// --- % and stdin --------------------------------------------------------------------------------

test('an unescaped % ends the command; later ones are newlines in stdin', () => {
  const j = job('0 0 * * * mail -s hi root%Dear root,%%all good.%');
  assert.equal(j.command, 'mail -s hi root');
  assert.equal(j.stdin, 'Dear root,\n\nall good.\n');
});

test('\\% is a literal %, in the command and in stdin', () => {
  const j = job('0 0 * * * date +\\%Y-\\%m-\\%d > /tmp/d%100\\% sure');
  assert.equal(j.command, 'date +%Y-%m-%d > /tmp/d');
  assert.equal(j.stdin, '100% sure');
});

test('other backslashes are left to the shell; \\\\% is a backslash then a real %', () => {
  const j = job('0 0 * * * printf "a\\tb\\\\"\\\\%in');
  assert.equal(j.command, 'printf "a\\tb\\\\"\\\\');
  assert.equal(j.stdin, 'in');
});

test('an empty stdin after a trailing % is an empty string, not null', () => {
  assert.equal(job('0 0 * * * cat%').stdin, '');
});

// --- directives --------------------------------------------------------------------------------

const GOOD_DIRECTIVES: Array<[string, Partial<JobDefinition['options']>]> = [
  ['timeout=90s', { timeoutMs: 90_000 }],
  ['timeout=500ms', { timeoutMs: 500 }],
  ['overlap=allow', { overlap: 'allow' }],
  ['overlap=queue', { overlap: 'queue' }],
  ['overlap=replace', { overlap: 'replace' }],
  ['overlap=skip', { overlap: 'skip' }],
  ['retries=0', { retries: 0 }],
  ['retries=100', { retries: 100 }],
  ['retry-delay=30s', { retryDelayMs: 30_000 }],
  ['retry-delay=0', { retryDelayMs: 0 }],
  ['catchup=1h', { catchupMs: 3_600_000 }],
  ['on-lost=finish', { onLost: 'finish' }],
  ['on-lost=kill', { onLost: 'kill' }],
  ['failover=rerun', { failover: 'rerun' }],
  ['failover=none', { failover: 'none' }],
  ['hosts=web-*', { hosts: 'web-*' }],
  ['hosts="role=db,zone=eu"', { hosts: 'role=db,zone=eu' }],
  ['mode=all', { mode: 'all' }],
  ['mode=once', { mode: 'once' }],
  ['jitter=2m', { jitterMs: 120_000 }],
  ['max-output=512KiB', { maxOutputBytes: 524_288 }],
  ['max-output=10MB', { maxOutputBytes: 10_000_000 }],
  ['max-output=4096', { maxOutputBytes: 4096 }],
  ['on-failure="notify-send failed"', { onFailure: 'notify-send failed' }],
  ['on-failure=/usr/local/bin/alert', { onFailure: '/usr/local/bin/alert' }],
  ['on-failure-webhook=https://hooks.example.com/dcron?x=1', { onFailureWebhook: 'https://hooks.example.com/dcron?x=1' }],
  ['on-failure-webhook=http://127.0.0.1:8080/alert', { onFailureWebhook: 'http://127.0.0.1:8080/alert' }],
  ['cwd=/srv/app', { cwd: '/srv/app' }],
  ['requires=mem>=2GiB', { requires: [{ figure: 'mem', op: '>=', value: 2_147_483_648 }] }],
  [
    'requires=mem>=1.5G,load<4,disk>10GB',
    {
      requires: [
        { figure: 'mem', op: '>=', value: 1_610_612_736 },
        { figure: 'load', op: '<', value: 4 },
        { figure: 'disk', op: '>', value: 10_000_000_000 },
      ],
    },
  ],
  ['requires="load <= 0.75, MEM > 512MiB"', { requires: [{ figure: 'load', op: '<=', value: 0.75 }, { figure: 'mem', op: '>', value: 536_870_912 }] }],
  ['requires=mem>=1.5G,mem<8G', { requires: [{ figure: 'mem', op: '>=', value: 1_610_612_736 }, { figure: 'mem', op: '<', value: 8_589_934_592 }] }],
];

for (const [directive, expected] of GOOD_DIRECTIVES) {
  test(`directive ${directive}`, () => {
    const j = job(`#dcron ${directive}\n0 0 * * * x`);
    assert.deepEqual(j.options, { ...job('0 0 * * * x').options, ...expected });
  });
}

test('directive name= and tz= set the job name and zone', () => {
  const j = job('CRON_TZ=Asia/Tokyo\n#dcron name=db.backup_v2-nightly tz=America/Sao_Paulo\n0 0 * * * x');
  assert.equal(j.name, 'db.backup_v2-nightly');
  assert.equal(j.tz, 'America/Sao_Paulo');
  assert.equal(j.env.CRON_TZ, 'Asia/Tokyo');
});

const BAD_DIRECTIVES: Array<[string, string]> = [
  ['name=-leading-dash', "invalid name '-leading-dash': use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"],
  ['name=a/b', "invalid name 'a/b': use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"],
  [`name=${'a'.repeat(129)}`, `invalid name '${'a'.repeat(129)}': use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`],
  ['name=', "invalid name '': use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"],
  ['tz=Mars/Olympus', "unknown time zone 'Mars/Olympus'"],
  ['timeout=0', 'timeout must be more than 0'],
  ['timeout=forever', "invalid timeout 'forever': expected a duration such as 90s, 5m, 1h30m or 500ms"],
  ['overlap=merge', "invalid overlap 'merge': expected skip, allow, queue or replace"],
  ['retries=101', "invalid retries '101': expected a whole number from 0 to 100"],
  ['retries=-1', "invalid retries '-1': expected a whole number from 0 to 100"],
  ['retries=2.5', "invalid retries '2.5': expected a whole number from 0 to 100"],
  ['retry-delay=soon', "invalid retry-delay 'soon': expected a duration such as 90s, 5m, 1h30m or 500ms"],
  ['catchup=1y', "invalid catchup '1y': expected a duration such as 90s, 5m, 1h30m or 500ms"],
  ['on-lost=pause', "invalid on-lost 'pause': expected kill or finish"],
  ['failover=maybe', "invalid failover 'maybe': expected none or rerun"],
  ['hosts=""', 'hosts must not be empty'],
  ['mode=some', "invalid mode 'some': expected once or all"],
  ['jitter=-5s', "invalid jitter '-5s': expected a duration such as 90s, 5m, 1h30m or 500ms"],
  ['max-output=lots', "invalid max-output 'lots': expected a size such as 1MiB, 512KiB, 10MB or a byte count"],
  ['max-output=0', 'max-output must be more than 0'],
  ['on-failure=""', 'on-failure must not be empty'],
  ['on-failure-webhook=hooks.example.com/x', "invalid on-failure-webhook 'hooks.example.com/x': expected an http:// or https:// URL"],
  ['on-failure-webhook=ftp://example.com/x', "invalid on-failure-webhook 'ftp://example.com/x': expected an http:// or https:// URL"],
  ['cwd=relative/dir', "cwd must be an absolute path, got 'relative/dir'"],
  ['requires=cpu<4', "requires: unknown figure 'cpu' (mem, load or disk)"],
  ['requires=mem>=2GiB,swap>1G', "requires: unknown figure 'swap' (mem, load or disk)"],
  ['requires=mem2GiB', "requires: 'mem2GiB' has no comparison: write mem>=VALUE, mem>VALUE, mem<=VALUE or mem<VALUE"],
  ['requires=mem=2GiB', "requires: unknown comparison '=' in 'mem=2GiB': use >=, >, <= or <"],
  ['requires=load=>4', "requires: unknown comparison '=>' in 'load=>4': use >=, >, <= or <"],
  ['requires=>=2GiB', "requires: '>=2GiB' names no figure: start each term with mem, load or disk, e.g. mem>=2GiB"],
  ['requires=mem>=', "requires: 'mem>=' has no value after >="],
  ['requires=mem>=2XB', "requires: invalid size '2XB' in 'mem>=2XB': expected free memory as a size such as 2GiB, 512MiB, 1.5G or a byte count"],
  ['requires=disk>-1G', "requires: invalid size '-1G' in 'disk>-1G': expected free disk as a size such as 2GiB, 512MiB, 1.5G or a byte count"],
  ['requires=load<high', "requires: invalid load 'high' in 'load<high': expected a number from 0 to 1000000 with at most 2 decimals, such as 4 or 0.75"],
  ['requires=load<0.125', "requires: invalid load '0.125' in 'load<0.125': expected a number from 0 to 1000000 with at most 2 decimals, such as 4 or 0.75"],
  ['requires=mem>=1G,mem>=2G', 'requires: mem>= is given twice'],
  ['requires=mem>=1G,', 'requires has an empty term: write terms separated by commas, e.g. requires=mem>=2GiB,load<4'],
  ['requires=""', 'requires must not be empty: write terms such as requires=mem>=2GiB,load<4'],
];

for (const [directive, message] of BAD_DIRECTIVES) {
  test(`bad directive ${directive.slice(0, 40)}: error at the value, job not loaded`, () => {
    const result = parse(`#dcron ${directive}\n0 0 * * * x\n0 1 * * * other`);
    assert.deepEqual(result.jobs.map((j) => j.command), ['other']);
    const valueColumn = 8 + directive.indexOf('=') + 1;
    assert.deepEqual(
      result.diagnostics.map(({ severity, line, column, message: m }) => ({ severity, line, column, message: m })),
      [{ severity: 'error', line: 1, column: valueColumn, message }],
    );
  });
}

test('an unknown directive key is an error at the key', () => {
  assert.deepEqual(only('#dcron timeout=5m nmae=x\n0 0 * * * x'), {
    severity: 'error',
    line: 1,
    column: 19,
    message: "unknown directive key 'nmae'",
    text: 'nmae',
  });
});

test('directive lines stack onto the job below them', () => {
  const j = job('#dcron name=stacked\n#dcron timeout=1m\n  #dcron retries=2 retry-delay=5s\n0 0 * * * x');
  assert.equal(j.name, 'stacked');
  assert.equal(j.options.timeoutMs, 60_000);
  assert.equal(j.options.retries, 2);
  assert.equal(j.options.retryDelayMs, 5000);
  assert.equal(j.source.line, 4);
});

test('directives apply to the next job only', () => {
  const result = parse('#dcron timeout=1m\n0 0 * * * a\n0 0 * * * b');
  assert.deepEqual(result.jobs.map((j) => j.options.timeoutMs), [60_000, null]);
});

test('a key set twice for one job is an error on the later one, in one line or across lines', () => {
  assert.deepEqual(only('#dcron timeout=1m\n#dcron timeout=2m\n0 0 * * * x'), {
    severity: 'error',
    line: 2,
    column: 8,
    message: "duplicate directive key 'timeout' (first set on line 1)",
    text: 'timeout',
  });
  assert.equal(only('#dcron retries=1 retries=2\n0 0 * * * x').column, 18);
  assert.deepEqual(parse('#dcron retries=1 retries=2\n0 0 * * * x').jobs, []);
});

test('a key with a bad value still counts as set; an unknown key never does', () => {
  assert.deepEqual(
    problems('#dcron timeout=5x\n#dcron timeout=5m\n0 0 * * * x').map(({ line, message }) => ({ line, message })),
    [
      { line: 1, message: "invalid timeout '5x': expected a duration such as 90s, 5m, 1h30m or 500ms" },
      { line: 2, message: "duplicate directive key 'timeout' (first set on line 1)" },
    ],
  );
  assert.deepEqual(
    problems('#dcron colour=red colour=blue\n0 0 * * * x').map((d) => d.message),
    ["unknown directive key 'colour'", "unknown directive key 'colour'"],
  );
});

test('directive values: double quotes keep spaces, \\" and \\\\ escape', () => {
  const j = job('#dcron on-failure="notify-send \\"job failed\\" C:\\\\x" hosts=a\n0 0 * * * x');
  assert.equal(j.options.onFailure, 'notify-send "job failed" C:\\x');
  assert.equal(j.options.hosts, 'a');
});

test('directive syntax errors are located', () => {
  assert.deepEqual(only('#dcron on-failure="never closed\n0 0 * * * x'), {
    severity: 'error',
    line: 1,
    column: 19,
    message: 'unterminated quoted value',
    text: '"never closed',
  });
  assert.deepEqual(
    problems('#dcron timeout 5m\n0 0 * * * x').map(({ column, message }) => ({ column, message })),
    [
      { column: 8, message: "expected key=value, got 'timeout'" },
      { column: 16, message: "expected key=value, got '5m'" },
    ],
  );
  assert.deepEqual(only('#dcron =5m\n0 0 * * * x'), { severity: 'error', line: 1, column: 8, message: "missing key before '='", text: '=5m' });
  assert.deepEqual(only('#dcron on-failure="a"b\n0 0 * * * x'), {
    severity: 'error',
    line: 1,
    column: 22,
    message: "expected a blank after the closing quote, got 'b'",
    text: 'b',
  });
});

test('an empty #dcron line is harmless', () => {
  assert.equal(job('#dcron\n0 0 * * * x').name.startsWith('job-'), true);
});

test('directives not directly above a job line are an error; the job below still loads', () => {
  const cases: Array<[string, string]> = [
    ['#dcron name=a\n\n0 0 * * * x', 'line 2 is blank'],
    ['#dcron name=a\n# why\n0 0 * * * x', 'line 2 is a comment'],
    ['#dcron name=a\nMAILTO=me\n0 0 * * * x', 'line 2 sets the environment'],
    ['0 0 * * * x\n#dcron name=a', 'the file ends'],
    ['0 0 * * * x\n#dcron name=a\n', 'the file ends'],
  ];
  for (const [text, reason] of cases) {
    const result = parse(text);
    assert.equal(result.jobs.length, 1, text);
    assert.ok(result.jobs[0].name.startsWith('job-'));
    const found = result.diagnostics.map(({ line, column, message, text: t }) => ({ line, column, message, text: t }));
    assert.deepEqual(found, [
      { line: text.startsWith('#') ? 1 : 2, column: 1, message: `directive is not directly above a job line (${reason})`, text: '#dcron' },
    ]);
  }
});

test('directives above an invalid job line are consumed by it without a second error', () => {
  assert.deepEqual(problems('#dcron name=a\n0 99 * * * x\n0 0 * * * y').map((d) => d.message), ['hour 99 out of range 0-23']);
});

test('# dcron with a space is a plain comment, with a warning when it looks like a directive', () => {
  const result = parse('# dcron name=x\n0 0 * * * x\n# dcron jobs below\n');
  assert.equal(result.jobs.length, 1);
  assert.ok(result.jobs[0].name.startsWith('job-'));
  assert.deepEqual(
    result.diagnostics.map(({ severity, line, column, message }) => ({ severity, line, column, message })),
    [{ severity: 'warning', line: 1, column: 1, message: "'# dcron' is a plain comment; write '#dcron' (no space) for a directive" }],
  );
});

// --- names --------------------------------------------------------------------------------------

test('the default name is a stable hash of schedule and command', () => {
  const a = job('0 0 * * * backup.sh');
  assert.match(a.name, /^job-[0-9a-f]{10}$/);
  assert.equal(job('0  0 * * *\tbackup.sh   ').name, a.name);
  assert.notEqual(job('0 1 * * * backup.sh').name, a.name);
  assert.notEqual(job('0 0 * * * backup.sh --full').name, a.name);
  assert.notEqual(job('0 0 * * * backup.sh%stdin').name, a.name);
  assert.equal(parse('A=1\n\n0 0 * * * backup.sh', { defaultTz: 'Asia/Tokyo' }).jobs[0].name, a.name);
});

test('a duplicate explicit name is an error at the later name; the later job is dropped', () => {
  const result = parse('#dcron name=nightly\n0 0 * * * a\n\n#dcron timeout=1m\n#dcron name=nightly\n0 1 * * * b\n');
  assert.deepEqual(result.jobs.map((j) => j.command), ['a']);
  assert.deepEqual(
    result.diagnostics.map(({ line, column, message, text }) => ({ line, column, message, text })),
    [{ line: 5, column: 13, message: "duplicate job name 'nightly' (first defined on line 2)", text: 'nightly' }],
  );
});

test('identical lines share a hashed name: the later one is an error', () => {
  const result = parse('* * * * * echo hi\n* * * * * echo hi\n');
  assert.equal(result.jobs.length, 1);
  const [d] = result.diagnostics;
  assert.equal(d.line, 2);
  assert.equal(d.message, `duplicate job '${result.jobs[0].name}': same schedule and command as line 1; give one a '#dcron name='`);
});

// --- warnings -----------------------------------------------------------------------------------

test('warning: an unescaped % right after + (a date format) ends the command', () => {
  const result = parse('0 0 * * * tar czf /b/$(date +%F).tgz /srv');
  assert.equal(result.jobs[0].command, 'tar czf /b/$(date +');
  assert.deepEqual(
    result.diagnostics.map(({ severity, column, text }) => ({ severity, column, text })),
    [{ severity: 'warning', column: 30, text: '%' }],
  );
  assert.deepEqual(problems('0 0 * * * mail root%hi'), []);
});

test('warning: a command that looks like a sixth field', () => {
  const result = parse('0 */5 * * * 8 /usr/bin/poll');
  assert.equal(result.jobs[0].command, '8 /usr/bin/poll');
  assert.deepEqual(
    result.diagnostics.map(({ severity, column, message }) => ({ severity, column, message })),
    [
      {
        severity: 'warning',
        column: 13,
        message: "command starts with '8', which looks like a cron field; this line was read as five fields (as six fields: day-of-week 8 out of range 0-7)",
      },
    ],
  );
  assert.deepEqual(problems('0 0 * * * ./run.sh'), []);
  assert.deepEqual(problems('@every 5s 5'), []);
});

// --- whole files ----------------------------------------------------------------------------------

test('a file with errors still loads its valid lines', () => {
  const text = ['0 1 * * * one', '61 * * * * bad-minute', '#dcron retries=lots', '0 2 * * * two-dropped', 'CRON_TZ=Nowhere', '#dcron tz=UTC', '0 3 * * * three', '@sometimes x', '0 4 * * * four'].join('\n');
  const result = parse(text);
  assert.deepEqual(result.jobs.map((j) => j.command), ['one', 'three']);
  assert.deepEqual(result.diagnostics.map((d) => d.line), [2, 3, 5, 8, 9]);
  assert.ok(result.diagnostics.every((d) => d.file === 'crontab' && d.severity === 'error'));
});

test('the valid fixture loads every job cleanly', () => {
  const result = parseCrontab(fixture('valid.crontab'), { file: 'valid.crontab', defaultTz: 'Europe/London' });
  assert.deepEqual(result.diagnostics, []);
  const byName = new Map(result.jobs.map((j) => [j.name, j]));
  assert.deepEqual([...byName.keys()].filter((n) => !n.startsWith('job-')), [
    'db-backup',
    'report.weekly',
    'heartbeat',
    'cache-warm',
    'queue-drain',
    'month-end',
  ]);
  assert.equal(result.jobs.length, 8);
  const backup = byName.get('db-backup');
  assert.equal(backup?.tz, 'America/New_York');
  assert.equal(backup?.shell, '/bin/bash');
  assert.equal(backup?.options.timeoutMs, 7_200_000);
  assert.equal(backup?.options.onFailure, 'mail -s "db backup failed" ops@example.com');
  assert.equal(byName.get('report.weekly')?.tz, 'Europe/Paris');
  assert.equal(byName.get('report.weekly')?.stdin, 'Weekly report attached.\n');
  assert.deepEqual(byName.get('heartbeat')?.schedule, { kind: 'every', intervalMs: 30_000 });
  assert.equal(byName.get('heartbeat')?.options.mode, 'all');
  assert.deepEqual(byName.get('cache-warm')?.schedule, { kind: 'reboot' });
  assert.deepEqual(byName.get('queue-drain')?.schedule, { kind: 'delay', delayMs: 10_000 });
  const monthEnd = byName.get('month-end');
  assert.ok(monthEnd?.schedule.kind === 'cron' && monthEnd.schedule.fields.dom.last);
  assert.equal(monthEnd?.tz, 'Europe/London');
  assert.equal(result.env.MAILTO, 'ops@example.com');
});

test('the broken fixture reports each error where it is and keeps the good jobs', () => {
  const result = parseCrontab(fixture('with-errors.crontab'), { file: 'with-errors.crontab', defaultTz: 'UTC' });
  assert.deepEqual(
    result.jobs.map((j) => [j.source.line, j.command]),
    [
      [10, '/usr/local/bin/fine'],
      [15, '/usr/local/bin/after-orphan'],
      [27, '/usr/local/bin/last-one'],
    ],
  );
  assert.deepEqual(result.jobs.map((j) => j.name).filter((n) => !n.startsWith('job-')), ['still-runs', 'after-errors']);
  assert.deepEqual(
    result.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`),
    [
      '4:3: error: hour 25 out of range 0-23',
      '7:8: error: unknown directive key \'timout\'',
      '11:9: error: reversed range fri-mon in day-of-week',
      '13:1: error: directive is not directly above a job line (line 14 is blank)',
      '17:7: error: unknown month name \'jnu\'',
      '19:8: error: @every 250ms is shorter than 1s',
      '22:13: error: duplicate job name \'still-runs\' (first defined on line 10)',
      '25:1: warning: \'# dcron\' is a plain comment; write \'#dcron\' (no space) for a directive',
    ],
  );
});

// --- formatting and schedule text ----------------------------------------------------------------

test('formatDiagnostic prints file:line:col, the line and a caret under the offending text', () => {
  const [d] = parse('0 24 * * * echo').diagnostics;
  assert.equal(formatDiagnostic(d), 'crontab:1:3: error: hour 24 out of range 0-23\n0 24 * * * echo\n  ^~');
  const [tabbed] = parse('\t0\t0 * * 9 x').diagnostics;
  assert.equal(formatDiagnostic(tabbed).split('\n')[2], '\t \t      ^');
  const [atEnd] = parse('0 0 * * *').diagnostics;
  assert.equal(formatDiagnostic(atEnd).split('\n')[2], '         ^');
  const bare: Diagnostic = { severity: 'warning', file: 'f', line: 2, column: 4, message: 'm', text: 'xyz' };
  assert.equal(formatDiagnostic(bare), 'f:2:4: warning: m\n    xyz');
});

test('parseScheduleText takes an expression, a nickname, @every, @delay or @reboot', () => {
  const cron = parseScheduleText('*/5 * * * *');
  assert.ok(cron.ok && cron.spec.kind === 'cron' && cron.scheduleText === '*/5 * * * *');
  const six = parseScheduleText('  0  */30 * * * *  ');
  assert.ok(six.ok && six.spec.kind === 'cron' && six.spec.fields.hasSeconds && six.scheduleText === '0 */30 * * * *');
  assert.deepEqual(parseScheduleText('@every 90s'), { ok: true, spec: { kind: 'every', intervalMs: 90_000 }, scheduleText: '@every 90s' });
  assert.deepEqual(parseScheduleText('@delay 2m'), { ok: true, spec: { kind: 'delay', delayMs: 120_000 }, scheduleText: '@delay 2m' });
  assert.deepEqual(parseScheduleText('@reboot'), { ok: true, spec: { kind: 'reboot' }, scheduleText: '@reboot' });
  const daily = parseScheduleText('@daily');
  assert.ok(daily.ok && daily.spec.kind === 'cron' && daily.scheduleText === '@daily');
});

test('parseScheduleText errors carry a column within the text', () => {
  assert.deepEqual(parseScheduleText('0 0 * * 8'), { ok: false, column: 9, message: 'day-of-week 8 out of range 0-7', text: '8' });
  assert.deepEqual(parseScheduleText('@daily now'), { ok: false, column: 8, message: "unexpected 'now' after '@daily'", text: 'now' });
  assert.deepEqual(parseScheduleText('@every 1s x'), { ok: false, column: 11, message: "unexpected 'x' after '@every 1s'", text: 'x' });
  assert.deepEqual(parseScheduleText('* * * * * * *'), { ok: false, column: 13, message: 'expected 5 or 6 fields, got 7', text: '*' });
  assert.deepEqual(parseScheduleText('   '), { ok: false, column: 1, message: 'empty schedule', text: '' });
  assert.deepEqual(parseScheduleText('@every'), { ok: false, column: 1, message: '@every needs a duration, e.g. @every 90s', text: '@every' });
});

test('durations that become timers are capped at what a Node timer can wait', () => {
  const parsed = parseCrontab('#dcron timeout=30d\n* * * * * true\n#dcron catchup=30d\n* * * * * true\n', { file: 'f', defaultTz: 'UTC' });
  assert.equal(parsed.diagnostics.length, 1);
  assert.match(parsed.diagnostics[0].message, /timeout must be at most 24d/);
  assert.equal(parsed.jobs.length, 1);
});
