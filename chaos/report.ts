/** The chaos results as a table: one row per scenario. */
import type { ScenarioResult } from './run-scenario.js';

const COLUMNS: Array<[string, (r: ScenarioResult) => string | number]> = [
  ['scenario', (r) => r.scenario],
  ['cycles', (r) => r.cycles],
  ['due', (r) => r.report.due],
  ['once', (r) => r.report.ranOnce],
  ['dup', (r) => r.report.duplicated],
  ['rerun', (r) => r.report.rerun],
  ['rerun after finish', (r) => r.report.rerunAfterFinish],
  ['missed(rec)', (r) => r.report.missedRecorded],
  ['skipped(rec)', (r) => r.report.skippedRecorded],
  ['no room (slot/group)', (r) => `${r.report.skippedNoSlot}/${r.report.skippedGroupFull}`],
  ['not started(rec)', (r) => r.report.recordedNotStarted],
  ['unrecorded', (r) => r.report.unrecorded],
  ['overlap', (r) => r.report.overlaps],
  ['fence', (r) => r.report.fenceViolations],
  ['early', (r) => r.report.childEarly],
  ['parent unreported', (r) => r.report.parentUnreported],
  ['not run, no fault', (r) => r.report.notRunOutsideFaults],
  ['slots', (r) => r.room?.slots ?? '-'],
  ['max slots', (r) => peaks(r.report.maxSlots)],
  ['max group', (r) => peaks(r.report.maxGroup)],
  ['gone/unknown end', (r) => `${r.report.runsGone}/${r.report.runsEndUnknown}`],
  ['over', (r) => r.report.slotViolations + r.report.groupViolations + r.report.skippedAndRan],
  ['checks', (r) => (r.failures.length === 0 ? 'ok' : `${r.failures.length} failed`)],
  ['verdict', (r) => (r.ok ? 'PASS' : 'FAIL')],
];

/** The most in use at once, per host or group, as `n1 4, n2 3`; `-` when nothing was judged. */
function peaks(of: Record<string, { inUse: number }> | undefined): string {
  const entries = Object.entries(of ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, p]) => `${k} ${p.inUse}`).join(', ');
}

export function formatResults(results: readonly ScenarioResult[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...results.map((r) => COLUMNS.map(([, f]) => String(f(r))))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n');
}
