/**
 * Parses successive versions of one file, as the daemon reloads it, giving
 * exactly what parseCrontab gives for each version.
 *
 * An edit touches one region of a file. The lines before it and after it are
 * found by comparing the two texts (text-diff.ts); only the region is read
 * again, starting from the state the lines above it leave (environment,
 * CRON_TZ, the names their jobs took). When the region ends in the state the
 * previous version had there, and took no name that a job below it depends
 * on, every job and problem below it is the previous version's, unchanged:
 * a reload after a one-line edit of a 100,000-job file reads one line
 * (bench/scale.ts). Otherwise (an environment line changed, lines inserted
 * above others, a name moved) the whole file is read again, still reusing
 * what each unchanged line says on its own (line-facts.ts).
 */
import type { Diagnostic, JobDefinition, ParseOptions, ParseResult } from './types.js';
import { applyEnvLine, CrontabReader, sortDiagnostics, type CronTz, type ReaderOutput } from './crontab-reader.js';
import { readLineFacts, type LineFacts } from './line-facts.js';
import { splitLinesBetween } from './lines.js';
import { commonPrefixLength, commonSuffixLength } from './text-diff.js';
import { detach } from './text.js';
import { withJobGraphChecks } from './job-graph.js';

/** Jobs of the previous version that a parse replaced: everything else is the very same objects. */
export interface ParseEdit {
  removed: JobDefinition[];
  added: JobDefinition[];
}

/** A parsed version of the file, kept to read the next one against. */
interface Version {
  opts: ParseOptions;
  text: string;
  /** Offset of each line in `text`: the lines themselves are not kept (lineAt). */
  starts: number[];
  facts: LineFacts[];
  /** Indices of the environment lines, ascending: replayed to know the state above a line. */
  envLines: number[];
  jobs: JobDefinition[];
  /** Job name -> line of the job that took it. */
  owners: Map<string, number>;
  /** Names some job was refused because another had taken them. */
  refused: Set<string>;
  /** In the order reported, with the line being read then (see CrontabReader). */
  diagnostics: Diagnostic[];
  reportedAt: number[];
  /** Environment at the end of the file. */
  env: Record<string, string>;
}

/** The unchanged lines at both ends: the previous version's first `prefix` and last `suffix` lines. */
interface Unchanged {
  prefix: number;
  suffix: number;
}

export class CrontabParser {
  private version: Version | null = null;
  private edit: ParseEdit | null = null;

  parse(text: string, opts: ParseOptions): ParseResult {
    const previous = this.version;
    // Cleared first: a parse that throws leaves no half-updated version to read the next one against.
    this.version = null;
    this.edit = null;
    const unchanged = previous ? unchangedLines(previous, text) : null;
    const spliced = previous && unchanged && sameOptions(previous.opts, opts) ? splice(previous, text, opts, unchanged) : null;
    if (spliced) {
      this.version = spliced.version;
      this.edit = spliced.edit;
      return withJobGraphChecks(spliced.result, text, opts.file);
    }
    const { version, result } = readAll(text, opts, previous, unchanged);
    this.version = version;
    return withJobGraphChecks(result, text, opts.file);
  }

  /**
   * How the last parse differs from the one before, when it was spliced
   * from it; null when the whole file was read again (compare everything).
   */
  get lastEdit(): ParseEdit | null {
    return this.edit;
  }
}

function sameOptions(a: ParseOptions, b: ParseOptions): boolean {
  return a.file === b.file && a.defaultTz === b.defaultTz && a.defaultShell === b.defaultShell;
}

/**
 * The previous version's lines found unchanged at the start and the end of
 * `text`. A line counts only with the newline that ends it (before it, at the
 * end), so a line that merely starts or ends the same is not taken for unchanged.
 */
function unchangedLines(previous: Version, text: string): Unchanged {
  const before = previous.text;
  const common = commonPrefixLength(before, text);
  const commonEnd = commonSuffixLength(before, text, Math.min(before.length, text.length) - common);
  const { starts } = previous;
  let prefix = 0;
  // Binary search: the lines whose end, newline included, is within the common prefix.
  for (let lo = 0, hi = starts.length; lo < hi; ) {
    const mid = (lo + hi) >> 1;
    if (lineEnd(previous, mid) <= common) lo = prefix = mid + 1;
    else hi = mid;
  }
  let suffix = 0;
  // Never the first line: what precedes it (a BOM, or nothing) is not a newline.
  while (starts.length - suffix - 1 > Math.max(prefix - 1, 0) && starts[starts.length - suffix - 1] - 1 >= before.length - commonEnd) suffix++;
  return { prefix, suffix };
}

/** Offset just past line `i`'s newline; Infinity for a last line without one. */
function lineEnd(version: Version, i: number): number {
  if (i + 1 < version.starts.length) return version.starts[i + 1];
  return version.text.endsWith('\n') ? version.text.length : Infinity;
}

/** Line `i` of the version's text, as splitLinesBetween gives it. */
function lineAt(version: Version, i: number): string {
  const start = version.starts[i];
  let end = version.text.indexOf('\n', start);
  if (end < 0) end = version.text.length;
  return version.text.slice(start, end > start && version.text.charCodeAt(end - 1) === 0x0d ? end - 1 : end);
}

/** Offset of line `i`'s start, or the end of the text past the last line. */
function lineStart(version: Version, i: number): number {
  return i < version.starts.length ? version.starts[i] : version.text.length;
}

/** Environment and CRON_TZ in effect above line index `line`, from the version's environment lines. */
function stateAbove(version: Version, line: number): { env: Record<string, string>; cronTz: CronTz } {
  const state = { env: {}, cronTz: { zone: null } as CronTz };
  for (const i of version.envLines) {
    if (i >= line) break;
    const facts = version.facts[i];
    if (facts.kind === 'env') applyEnvLine(state, i + 1, facts.env);
  }
  return state;
}

function sameCronTz(a: CronTz, b: CronTz): boolean {
  return 'zone' in a ? 'zone' in b && a.zone === b.zone : 'invalidOnLine' in b && a.invalidOnLine === b.invalidOnLine;
}

/**
 * The new version as the previous one with its edited region read again, or
 * null when the lines below the region may read differently now.
 */
function splice(previous: Version, text: string, opts: ParseOptions, unchanged: Unchanged): { version: Version; result: ParseResult; edit: ParseEdit } | null {
  // Directive lines right above the edit belong to the job the edit may change: read them again too.
  let start = unchanged.prefix;
  while (start > 0 && previous.facts[start - 1].kind === 'directive') start--;
  const oldCount = previous.starts.length;
  let oldEnd = oldCount - unchanged.suffix;
  // From the very start when the region is the first line: whether the text opens with a BOM may be the edit.
  const from = start === 0 ? 0 : lineStart(previous, start);
  const region = splitLinesBetween(text, from, text.length - (previous.text.length - lineStart(previous, oldEnd)));
  const count = start + region.texts.length + unchanged.suffix;
  // Lines below the region moved: their jobs and problems carry other line numbers now.
  if (count !== oldCount && unchanged.suffix > 0) return null;
  // A mostly new file is read afresh (readAll): facts read from copies of most of its lines would cost more than they save.
  if (region.texts.length > count / 2) return null;

  const above = stateAbove(previous, start);
  const reader = new CrontabReader(opts, {
    ...above,
    ownerAbove: (name) => {
      const line = previous.owners.get(name);
      return line !== undefined && line <= start ? line : undefined;
    },
  });
  const lines = region.texts.map(detach);
  const facts = lines.map((line) => readLineFacts(line));
  for (let i = 0; i < lines.length; i++) reader.read(start + i + 1, lines[i], facts[i]);
  // Read on while the region's last directives wait for their job (here or in the previous version).
  let end = start + lines.length;
  let found = reader.found;
  while (oldEnd < oldCount && (found.pending || previous.facts[oldEnd - 1]?.kind === 'directive')) {
    reader.read(end + 1, lineAt(previous, oldEnd), previous.facts[oldEnd]);
    facts.push(previous.facts[oldEnd]);
    region.starts.push(previous.starts[oldEnd] + text.length - previous.text.length);
    end++;
    oldEnd++;
    found = reader.found;
  }
  const atEnd = oldEnd === oldCount;
  if (atEnd) reader.endOfFile();
  else if (!belowUnaffected(previous, start, oldEnd, found)) return null;

  const oldJobs = linesOf(previous.jobs, start, oldEnd);
  const owners = previous.owners;
  for (const job of previous.jobs.slice(oldJobs.from, oldJobs.to)) if (owners.get(job.name) === job.source.line) owners.delete(job.name);
  for (const [name, line] of found.nameLines) owners.set(name, line);
  for (const name of found.refusedNames) previous.refused.add(name);
  const removed = previous.jobs.slice(oldJobs.from, oldJobs.to);
  const jobs = [...previous.jobs.slice(0, oldJobs.from), ...found.jobs, ...previous.jobs.slice(oldJobs.to)];

  // Problems found while reading the lines above the region, in it, and below it (the file's end included).
  const keep = (at: number) => at <= start || (!atEnd && at > oldEnd);
  const diagnostics: Diagnostic[] = [];
  const reportedAt: number[] = [];
  const take = (d: Diagnostic, at: number) => {
    diagnostics.push(d);
    reportedAt.push(at);
  };
  previous.diagnostics.forEach((d, i) => previous.reportedAt[i] <= start && take(d, previous.reportedAt[i]));
  found.diagnostics.forEach((d, i) => take(d, found.reportedAt[i]));
  previous.diagnostics.forEach((d, i) => previous.reportedAt[i] > start && keep(previous.reportedAt[i]) && take(d, previous.reportedAt[i]));

  const shift = text.length - previous.text.length;
  const version: Version = {
    opts,
    text,
    starts: [...previous.starts.slice(0, start), ...region.starts, ...previous.starts.slice(oldEnd).map((s) => s + shift)],
    facts: spliceArray(previous.facts, start, oldEnd, facts),
    envLines: [...previous.envLines.filter((i) => i < start), ...facts.flatMap((f, i) => (f.kind === 'env' ? [start + i] : [])), ...previous.envLines.filter((i) => i >= oldEnd)],
    jobs,
    owners,
    refused: previous.refused,
    diagnostics,
    reportedAt,
    env: atEnd ? { ...found.env } : previous.env,
  };
  return { version, result: { jobs: [...jobs], env: { ...version.env }, diagnostics: sortDiagnostics(diagnostics) }, edit: { removed, added: [...found.jobs] } };
}

/**
 * Whether the lines from `oldEnd` on read as they did, after the region
 * read into `found`: the same environment and zone reach them, no directive
 * is waiting across the boundary, no name a job below took is taken in the
 * region now, and no name a job below was refused for changed hands.
 */
function belowUnaffected(previous: Version, start: number, oldEnd: number, found: ReaderOutput): boolean {
  if (found.pending || previous.facts[oldEnd - 1]?.kind === 'directive') return false;
  const before = stateAbove(previous, oldEnd);
  if (!sameCronTz(before.cronTz, found.cronTz) || JSON.stringify(before.env) !== JSON.stringify(found.env)) return false;
  for (const name of found.nameLines.keys()) {
    const line = previous.owners.get(name);
    if (line !== undefined && line > oldEnd) return false;
  }
  const { from, to } = linesOf(previous.jobs, start, oldEnd);
  for (let i = from; i < to; i++) if (previous.refused.has(previous.jobs[i].name)) return false;
  return true;
}

/** Indices of the jobs on line indices [start, end), which are in line order. */
function linesOf(jobs: readonly JobDefinition[], start: number, end: number): { from: number; to: number } {
  // source.line is 1-based: line index i is line i + 1.
  const firstAtOrAfter = (line: number) => {
    let lo = 0;
    let hi = jobs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (jobs[mid].source.line < line) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return { from: firstAtOrAfter(start + 1), to: firstAtOrAfter(end + 1) };
}

function spliceArray<T>(array: readonly T[], start: number, end: number, items: readonly T[]): T[] {
  if (end - start === items.length) {
    const copy = array.slice();
    for (let i = 0; i < items.length; i++) copy[start + i] = items[i];
    return copy;
  }
  return [...array.slice(0, start), ...items, ...array.slice(end)];
}

/**
 * Every line read, the previous version's unchanged ones from what was read
 * of them then. When most of the file is new, every line is read afresh, and
 * the facts may then keep this version's text (it is kept as the version's
 * anyway) rather than each a copy of its line.
 */
function readAll(text: string, opts: ParseOptions, previous: Version | null, unchanged: Unchanged | null): { version: Version; result: ParseResult } {
  const { texts: lines, starts } = splitLinesBetween(text, 0, text.length);
  const reuse = previous !== null && unchanged !== null && lines.length - unchanged.prefix - unchanged.suffix <= lines.length / 2;
  const facts = new Array<LineFacts>(lines.length);
  const envLines: number[] = [];
  const reader = new CrontabReader(opts);
  const shift = previous ? previous.starts.length - lines.length : 0;
  for (let i = 0; i < lines.length; i++) {
    if (reuse && i < unchanged.prefix) facts[i] = previous.facts[i];
    else if (reuse && i >= lines.length - unchanged.suffix) facts[i] = previous.facts[i + shift];
    // Read from a copy when the rest is reused: the facts outlive this text, and a slice would keep it all.
    else facts[i] = readLineFacts(reuse ? detach(lines[i]) : lines[i]);
    if (facts[i].kind === 'env') envLines.push(i);
    reader.read(i + 1, lines[i], facts[i]);
  }
  reader.endOfFile();
  const found = reader.found;
  const version: Version = {
    opts,
    text,
    starts,
    facts,
    envLines,
    jobs: found.jobs,
    owners: found.nameLines,
    refused: found.refusedNames,
    diagnostics: found.diagnostics,
    reportedAt: found.reportedAt,
    env: { ...found.env },
  };
  return { version, result: { jobs: [...found.jobs], env: { ...found.env }, diagnostics: sortDiagnostics(found.diagnostics) } };
}
