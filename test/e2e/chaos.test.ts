import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatResults } from '../../chaos/report.js';
import type { ScenarioResult } from '../../chaos/run-scenario.js';
import { SCENARIOS } from '../../chaos/scenarios.js';

const RUNNER = fileURLToPath(new URL('../../chaos/run.js', import.meta.url));

/**
 * The short chaos run: every scenario once, each fault cycle a single time
 * (`npm run chaos` repeats them for minutes). The runner is the same program
 * as `npm run chaos`, started as a process, judged by its own checker; this
 * test asserts its verdict and that each scenario covered real ticks.
 */
test('chaos, short run: every scenario once, no duplicate, unrecorded loss, overlap, fence violation, child before its parents, host over its slots or group over its limit', { timeout: 15 * 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dcron-chaos-test-'));
  const json = join(dir, 'results.json');
  try {
    const child = spawn(process.execPath, [RUNNER, '--seconds', '1', '--json', json], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const results = existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as { results: ScenarioResult[] }).results : [];
    for (const line of formatResults(results).split('\n')) t.diagnostic(line);
    const failed = results.filter((r) => !r.ok).map((r) => `${r.scenario}: ${[...r.failures, ...r.report.violations.slice(0, 10).map((v) => `${v.kind}: ${v.job} ${v.detail}`)].join('\n')} (evidence: ${r.evidence})`);
    assert.equal(code, 0, `chaos run failed:\n${failed.join('\n') || output.slice(-20_000)}`);
    assert.deepEqual(results.map((r) => r.scenario), SCENARIOS.map((s) => s.name));
    for (const r of results) {
      assert.ok(r.ok, `${r.scenario} failed`);
      assert.ok(r.faults >= 1 || r.scenario === 'skew', `${r.scenario} injected its fault`);
      // Coverage, not a verdict (the checker gave that): a quorum loss leaves most of a short window unrun, by design.
      assert.ok(r.report.due >= 100 && r.report.ranOnce >= 50, `${r.scenario} covered ${r.report.due} ticks, ${r.report.ranOnce} ran`);
      // The sharded workload's children: each judged on some parent ticks, so the child rules had runs to judge.
      for (const child of ['child-rerun', 'child-none', 'child-plain']) {
        const c = r.report.perJob[child];
        if (c) assert.ok(c.due >= 3 && c.ran >= 1, `${r.scenario}: ${child} due ${c.due}, ran ${c.ran}`);
      }
      // The slot and group checks had runs to judge: some host filled its slots, and the group filled (the workload wants more than its limits).
      const maxSlots = Object.values(r.report.maxSlots).map((p) => p.inUse);
      assert.ok(maxSlots.length === 3 && Math.max(...maxSlots) === r.room.slots, `${r.scenario}: slots in use at most ${JSON.stringify(r.report.maxSlots)} of ${r.room.slots}`);
      if (r.report.perJob['group-allow']) assert.equal(r.report.maxGroup.chaos?.inUse, 2, `${r.scenario}: group chaos was never full`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
