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
// The chaos run starts three daemons and an etcd per scenario and judges them by the clock:
// it runs alone, after the rest, so neither it nor the cluster tests time out under the other's load.
const alone = (f) => f.includes('/e2e/chaos.test.');
let status = 0;
for (const batch of [files.filter((f) => !alone(f)), files.filter(alone)]) {
  if (batch.length === 0) continue;
  const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...batch], { stdio: 'inherit' });
  status ||= result.status ?? 1;
}
process.exit(status);
