/**
 * What only the whole file can tell about its jobs: dependencies that name
 * a job the file does not have, run in a circle, or cross zones, and options
 * that do not go together. Each is an error located at the directive that
 * says it, so `dcron validate` points at it; the jobs stay as they are (a
 * dependent job whose parents never end a tick simply never runs), so the
 * daemon keeps every other job.
 */
import type { Diagnostic, JobDefinition, ParseResult } from './types.js';
import { sortDiagnostics } from './crontab-reader.js';
import { splitLines } from './lines.js';

export function withJobGraphChecks(result: ParseResult, text: string, file: string): ParseResult {
  const problems = checkJobGraph(result.jobs, text, file);
  return problems.length === 0 ? result : { ...result, diagnostics: sortDiagnostics([...result.diagnostics, ...problems]) };
}

export function checkJobGraph(jobs: readonly JobDefinition[], text: string, file: string): Diagnostic[] {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const dependents = jobs.filter((j) => j.options.after || j.options.afterFailure || j.schedule.kind === 'after' || (j.options.shards > 1 && j.options.mode === 'all'));
  if (dependents.length === 0) return [];
  let lines: string[] | null = null;
  const at = (job: JobDefinition, key: string, message: string, what: string): Diagnostic => {
    lines ??= splitLines(text);
    const { line, column, lineText } = locateKey(lines, job.source.line, key, what);
    return { severity: 'error', file, line, column, message, text: what, lineText };
  };
  const out: Diagnostic[] = [];
  for (const job of dependents) {
    const { after, afterFailure, shards, mode } = job.options;
    if (shards > 1 && mode === 'all') out.push(at(job, 'shards', `job '${job.name}': shards and mode=all cannot be combined (mode=all runs every tick on every host; shards split it over them)`, `shards=${shards}`));
    if (job.schedule.kind === 'after' && !after && !afterFailure) out.push(at(job, '@after', `job '${job.name}': @after needs an after= or after-failure= directive naming the jobs it follows`, '@after'));
    if (after && afterFailure) out.push(at(job, 'after-failure', `job '${job.name}': after= and after-failure= cannot be combined; write two jobs`, 'after-failure'));
    for (const [key, parents] of [['after', after], ['after-failure', afterFailure]] as const) {
      for (const parent of parents ?? []) {
        const p = byName.get(parent);
        if (!p) out.push(at(job, key, `job '${job.name}': ${key}=${parent} names no job in ${file}`, parent));
        else if (p.tz !== job.tz) out.push(at(job, key, `job '${job.name}' runs in ${job.tz} but its parent '${parent}' in ${p.tz}: a dependent job shares its parents' calendar (set the same tz= on both)`, parent));
      }
    }
  }
  for (const cycle of findCycles(jobs, byName)) {
    const job = byName.get(cycle[0])!;
    out.push(at(job, job.options.after ? 'after' : 'after-failure', `dependency cycle: ${[...cycle, cycle[0]].join(' -> ')} (each waits for the next, so none would ever run)`, cycle[0]));
  }
  return out;
}

const parentsOf = (job: JobDefinition): string[] => [...(job.options.after ?? []), ...(job.options.afterFailure ?? [])];

/** Each cycle once, as the names along it starting from the first job of the file on it. */
function findCycles(jobs: readonly JobDefinition[], byName: Map<string, JobDefinition>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[][] = [];
  const path: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    path.push(name);
    for (const parent of parentsOf(byName.get(name)!)) {
      if (!byName.has(parent)) continue;
      const s = state.get(parent);
      if (s === 'open') cycles.push(path.slice(path.indexOf(parent)));
      else if (s === undefined) visit(parent);
    }
    path.pop();
    state.set(name, 'done');
  };
  for (const job of jobs) if (!state.has(job.name) && parentsOf(job).length > 0) visit(job.name);
  return cycles;
}

/** The `key=` (or `@after`) in the directive lines just above the job's line; else the job's line itself. */
function locateKey(lines: readonly string[], jobLine: number, key: string, value: string): { line: number; column: number; lineText: string } {
  const needle = key.startsWith('@') ? key : `${key}=`;
  const jobText = lines[jobLine - 1] ?? '';
  if (key.startsWith('@')) return { line: jobLine, column: Math.max(0, jobText.indexOf(needle)) + 1, lineText: jobText };
  for (let i = jobLine - 2; i >= 0 && /^\s*#\s*dcron\b/.test(lines[i]); i--) {
    const m = new RegExp(`(^|\\s)${needle.replace(/[-=]/g, (c) => `\\${c}`)}`).exec(lines[i]);
    if (!m) continue;
    const keyAt = m.index + m[1].length;
    // At the offending name inside the value, when it is there: `after=a,nope` points at `nope`.
    const valueAt = lines[i].indexOf(value, keyAt + needle.length);
    return { line: i + 1, column: (valueAt >= 0 ? valueAt : keyAt) + 1, lineText: lines[i] };
  }
  return { line: jobLine, column: 1, lineText: jobText };
}
