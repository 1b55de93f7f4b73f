/**
 * `npm run bench`: builds, then runs every bench module (bench/*.ts other than
 * this file, compiled to dist/bench/*.js), prints a table and writes
 * bench/results/latest.json. Options:
 *
 *   --only NAME   run only the module(s) whose exported `name` is NAME
 *                 (repeatable, or comma-separated)
 *   --out FILE    write JSON somewhere other than bench/results/latest.json
 *
 * Anything else is passed to the modules as ctx.args. A module is discovered
 * automatically: it only has to export `name` and `run` (bench/lib/types.ts).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchContext, BenchModule, BenchResult } from './lib/types.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const root = join(here, '..', '..');

function parseArgs(argv: string[]): { only: string[]; out: string; rest: string[] } {
  const only: string[] = [];
  let out = join(root, 'bench', 'results', 'latest.json');
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (a.startsWith('--only=')) only.push(...a.slice(7).split(',').filter(Boolean));
    else if (a === '--out') out = argv[++i];
    else rest.push(a);
  }
  return { only, out, rest };
}

function machine(): Record<string, string | number> {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1];
  } catch {
    /* not Linux */
  }
  return { nproc: cpus().length, cpu: model, node: process.version, platform: `${process.platform}-${process.arch}` };
}

function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '';
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function table(results: BenchResult[]): string {
  const head = ['name', 'figure', 'unit', 'target', 'floor', 'ratio', 'pass'];
  const rows = results.map((r) => [r.name, fmt(r.figure), r.unit, fmt(r.target), fmt(r.floor), fmt(r.ratio), r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL']);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |';
  return [line(head), '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { only, out, rest } = parseArgs(process.argv.slice(2));
  const files = readdirSync(here).filter((f) => f.endsWith('.js') && f !== basename(fileURLToPath(import.meta.url))).sort();
  const modules: BenchModule[] = [];
  for (const f of files) {
    const m = (await import(pathToFileURL(join(here, f)).href)) as Partial<BenchModule>;
    if (typeof m.name === 'string' && typeof m.run === 'function') modules.push(m as BenchModule);
  }
  const selected = only.length ? modules.filter((m) => only.includes(m.name)) : modules;
  if (selected.length === 0) {
    console.error(`no bench module matches ${only.join(',')}; have: ${modules.map((m) => m.name).join(', ')}`);
    process.exit(2);
  }
  const all: BenchResult[] = [];
  const errors: Record<string, string> = {};
  for (const m of selected) {
    const tmp = mkdtempSync(join(tmpdir(), `dcron-bench-${m.name}-`));
    const ctx: BenchContext = { root, tmp, args: rest, log: (msg) => process.stderr.write(`[${m.name}] ${msg}\n`) };
    const t0 = performance.now();
    try {
      const res = await m.run(ctx);
      all.push(...res);
      ctx.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      errors[m.name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
      ctx.log(`FAILED: ${errors[m.name]}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), machine: machine(), modules: selected.map((m) => m.name), results: all, errors }, null, 2) + '\n');
  const mc = machine();
  console.log(`machine: ${mc.nproc} x ${mc.cpu}, node ${mc.node}`);
  console.log(table(all));
  for (const r of all) console.log(`  ${r.name}: ${r.how}`);
  console.log(`\nwrote ${out}`);
  if (Object.keys(errors).length) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
