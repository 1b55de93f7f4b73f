/**
 * `npm run chaos [-- --scenario NAME[,NAME]] [--minutes N]`: runs fault
 * scenarios against three real daemons on a real etcd, and judges each
 * from the ledger the jobs write themselves. Exits 1 on any duplicate,
 * unrecorded loss, overlap or fence violation, dependent run started before
 * its parents ended, or failed scenario check.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, scenarioNamed } from './scenarios.js';
import { runScenario, type ScenarioResult } from './run-scenario.js';
import { formatResults } from './report.js';

const USAGE = `usage: npm run chaos -- [--scenario NAME[,NAME...]] [--minutes N] [--seconds N] [--seed N] [--json FILE]

  --scenario   scenarios to run (default: all): ${SCENARIOS.map((s) => s.name).join(', ')}
  --minutes    how long each scenario repeats its fault (default 3); --seconds for short runs
  --seed       seed of the random choices (crontab edits), to replay a run
  --json       where to write the results (default chaos/results/latest.json)
  --keep       keep every scenario's ledger, records and daemon logs (failed ones are always kept)

Needs root for the isolate (network namespace) and disk-full (tmpfs) scenarios,
and /usr/bin/etcd (or ETCD_BIN).`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** chaos/results in the source tree (this file runs from dist/chaos). */
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '../../chaos/results');

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const names = arg('scenario')?.split(',') ?? SCENARIOS.map((s) => s.name);
  const scenarios = names.map(scenarioNamed);
  const seconds = arg('seconds') !== undefined ? Number(arg('seconds')) : Number(arg('minutes') ?? 3) * 60;
  if (!(seconds > 0)) throw new RangeError(`--minutes/--seconds must be a positive number`);
  const seed = arg('seed') !== undefined ? Number(arg('seed')) : undefined;
  const results: ScenarioResult[] = [];
  const startedAt = new Date().toISOString();
  for (const s of scenarios) {
    console.log(`chaos: ${s.name}: ${s.what} (${seconds} s)`);
    const r = await runScenario(s, { durationMs: seconds * 1000, seed, log: (l) => console.log(l), evidenceDir: join(resultsDir, 'failed'), keepEvidence: process.argv.includes('--keep') });
    results.push(r);
    console.log(formatResults([r]));
    for (const n of r.notes ?? []) console.log(`  ${n}`);
    if (!r.ok) console.log([`evidence kept in ${r.evidence}`, ...r.failures, ...r.report.violations.slice(0, 20).map((v) => `${v.kind}: ${v.job} ${v.detail}`), r.warnings ?? ''].join('\n'));
  }
  console.log('\n' + formatResults(results));
  const out = arg('json') ?? join(resultsDir, 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ startedAt, command: `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim(), secondsPerScenario: seconds, results: results.map(({ warnings: _w, ...r }) => ({ ...r, report: { ...r.report, violations: r.report.violations.slice(0, 50) } })) }, null, 2) + '\n');
  console.log(`results written to ${out}`);
  return results.every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A bad argument is the user's to fix: its message, not a stack.
    console.error('chaos:', err instanceof RangeError ? err.message : err);
    process.exit(2);
  },
);
