/**
 * `dcron next` given random and mutated expressions, zones, instants and
 * counts, through the real bin/dcron: it prints ticks and exits 0, or says
 * what is wrong and exits 1 (bad expression) or 2 (bad usage), and never
 * shows a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cli, type CliResult } from '../helpers/daemon-process.js';
import { ZONES, scheduleExpression } from '../helpers/crontab-arbitraries.js';

const SPAWNS = 20;
const CONCURRENCY = 4;

/** An instant as ISO, near the ends of Date's range too, or something that is no instant. */
const fromArg = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2200, 0, 1) }).map((ms) => new Date(ms).toISOString()) },
  { weight: 2, arbitrary: fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms).toISOString()) },
  { weight: 2, arbitrary: fc.constantFrom('2026-03-29T01:00:00+01:00', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '-271821-04-20T00:00:00Z') },
  { weight: 1, arbitrary: fc.constantFrom('tomorrow', '', '2026-13-45T99:99:99Z', '１２３') },
);

const invocation = fc.record({
  // A command-line argument cannot hold NUL: spawn refuses it before dcron sees it.
  expr: scheduleExpression.map((e) => e.replace(/\0/g, '')),
  tz: fc.option(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...ZONES) }, { weight: 1, arbitrary: fc.constantFrom('Nowhere/City', '../etc/localtime', 'EST5EDT', '') }), { nil: undefined }),
  from: fc.option(fromArg, { nil: undefined }),
  n: fc.option(fc.oneof({ weight: 6, arbitrary: fc.constantFrom('1', '3', '10000') }, { weight: 1, arbitrary: fc.constantFrom('0', '-1', 'x', '10001', '1e3', '99999999999999999999') }), { nil: undefined }),
  json: fc.boolean(),
  // Without `--`, an expression starting with '-' reads as an option: a usage error, still no trace.
  dashDash: fc.constantFrom(true, true, true, false),
});

type Invocation = typeof invocation extends fc.Arbitrary<infer T> ? T : never;

function argsOf(inv: Invocation): string[] {
  const args = ['next'];
  if (inv.tz !== undefined) args.push('--tz', inv.tz);
  if (inv.from !== undefined) args.push(`--from=${inv.from}`);
  // Attached (`-n-1`), so a negative count is read as the count and not as another option.
  if (inv.n !== undefined) args.push(`-n${inv.n}`);
  if (inv.json) args.push('--json');
  if (inv.dashDash) args.push('--');
  args.push(inv.expr);
  return args;
}

const TICK = /^[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d(:\d\d)?$/;

function check(inv: Invocation, args: string[], r: CliResult): void {
  const what = `dcron ${JSON.stringify(args)} -> ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.ok(r.code === 0 || r.code === 1 || r.code === 2, what);
  assert.doesNotMatch(r.stderr, /^\s+at .*(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m, `stack trace: ${what}`);
  assert.doesNotMatch(r.stderr, /\b(RangeError|TypeError|ReferenceError|SyntaxError)\b/, what);
  if (r.code !== 0) {
    assert.ok(r.stderr.trim() !== '', `no message: ${what}`);
    assert.equal(r.stdout, '', what);
    return;
  }
  const ticks = inv.json ? (JSON.parse(r.stdout) as { next: string[] }).next : r.stdout.split('\n').filter((l) => l !== '');
  for (const t of ticks) assert.match(t, TICK, what);
  if (ticks.length === 0 && !inv.json) assert.match(r.stderr, /never fires/, what);
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

test(`dcron next on ${SPAWNS} hostile invocations: ticks and 0, or a message and 1 or 2, never a stack trace`, { timeout: 120_000 }, async (t) => {
  const invocations = fc.sample(invocation, { numRuns: SPAWNS, seed: 5_0004 });
  const codes = new Map<number | null, number>();
  await pool(invocations, CONCURRENCY, async (inv) => {
    const args = argsOf(inv);
    const r = await cli(args, { timeoutMs: 15_000 });
    codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    check(inv, args, r);
  });
  t.diagnostic(`exit codes: ${JSON.stringify([...codes])}`);
});
