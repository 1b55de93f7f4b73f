// Runs every compiled test file under dist/test with node's test runner.
// Node 20's `--test` does not expand globs itself, so collect files here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const only = process.argv.slice(2);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = collect(root).filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('no test files found under', root);
  process.exit(1);
}
// Files that start three daemons running dozens of every-second jobs and judge them by the
// clock need the machine to themselves: two of them side by side on two cores fall behind
// their own ticks (measured on the old tick path too). They run after the rest, each file
// in a run of its own, the chaos run last.
const ALONE = ['/e2e/cluster.test.', '/e2e/cluster-efficiency.test.', '/e2e/chaos.test.'];
const alone = (f) => ALONE.some((a) => f.includes(a));
const batches = [files.filter((f) => !alone(f)), ...ALONE.map((a) => files.filter((f) => f.includes(a)))];
let status = 0;
for (const batch of batches) {
  if (batch.length === 0) continue;
  const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...batch], { stdio: 'inherit' });
  status ||= result.status ?? 1;
}
process.exit(status);
