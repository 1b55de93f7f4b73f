/**
 * What publishing one host's crontab would do to the cluster's job list. Pure,
 * so `dcron validate --diff` shows exactly what publishJobs then applies.
 *
 * Rules: a job in the file is added, changed (its definition differs) or
 * unchanged. A job in the cluster but not in the file is removed only when
 * this host wrote it last, and never when the file has errors: a line that
 * broke, or a host with an old file, must not delete a job the cluster runs.
 */
import type { JobDefinition } from '../../crontab/types.js';
import { sameDefinition, type JobRecord } from './job-record.js';

export interface FieldChange {
  /** `schedule`, `command`, `env.PATH`, `options.timeoutMs`, ... */
  field: string;
  /** Rendered as JSON, shortened; `(unset)` when absent. */
  before: string;
  after: string;
}

export interface JobAddition {
  name: string;
  def: JobDefinition;
}

export interface JobModification {
  name: string;
  def: JobDefinition;
  previous: JobRecord;
  fields: FieldChange[];
  /** The definition being replaced was written by another host: a conflict, logged as such. */
  overwrites: boolean;
}

export interface ExistingJob {
  name: string;
  previous: JobRecord;
}

export interface JobDiff {
  add: JobAddition[];
  change: JobModification[];
  remove: ExistingJob[];
  unchanged: string[];
  /** Not in the file, but the file has errors: nothing is removed. */
  keptBecauseErrors: ExistingJob[];
  /** Not in the file, but another host wrote it last: that host decides. */
  keptBecauseOtherWriter: ExistingJob[];
}

/** Duplicate names in `fileJobs` cannot come from the parser; if given, the last one counts. */
export function diffJobList(cluster: ReadonlyMap<string, JobRecord>, fileJobs: readonly JobDefinition[], nodeId: string, hasErrors: boolean): JobDiff {
  const diff: JobDiff = { add: [], change: [], remove: [], unchanged: [], keptBecauseErrors: [], keptBecauseOtherWriter: [] };
  const inFile = new Map(fileJobs.map((def) => [def.name, def]));
  for (const [name, def] of sortedByName(inFile)) {
    const previous = cluster.get(name);
    if (!previous) diff.add.push({ name, def });
    else if (sameDefinition(previous.def, def)) diff.unchanged.push(name);
    else diff.change.push({ name, def, previous, fields: fieldChanges(previous.def, def), overwrites: previous.writer !== nodeId });
  }
  for (const [name, previous] of sortedByName(cluster)) {
    if (inFile.has(name)) continue;
    if (hasErrors) diff.keptBecauseErrors.push({ name, previous });
    else if (previous.writer === nodeId) diff.remove.push({ name, previous });
    else diff.keptBecauseOtherWriter.push({ name, previous });
  }
  return diff;
}

export function isEmptyDiff(diff: JobDiff): boolean {
  return diff.add.length + diff.change.length + diff.remove.length === 0;
}

/**
 * For the CLI: `+ name  schedule  command`, `~ name  field: old -> new` (one
 * line per field), `- name`, then the jobs kept and why, then a count.
 */
export function formatJobDiff(diff: JobDiff): string {
  const lines: string[] = [];
  for (const { name, def } of diff.add) lines.push(`+ ${name}  ${def.scheduleText}  ${oneLine(def.command)}`);
  for (const { name, previous, fields, overwrites } of diff.change) {
    for (const f of fields) lines.push(`~ ${name}  ${f.field}: ${f.before} -> ${f.after}`);
    if (overwrites) lines.push(`! ${name}  replaces the definition ${previous.writer} published from ${previous.file}`);
  }
  for (const { name } of diff.remove) lines.push(`- ${name}`);
  for (const { name } of diff.keptBecauseErrors) lines.push(`= ${name}  kept: not in this file, but the file has errors`);
  for (const { name, previous } of diff.keptBecauseOtherWriter) lines.push(`= ${name}  kept: last published by ${previous.writer} from ${previous.file}`);
  const counts = `${diff.add.length} to add, ${diff.change.length} to change, ${diff.remove.length} to remove, ${diff.unchanged.length} unchanged`;
  lines.push(isEmptyDiff(diff) ? `no changes (${counts})` : counts);
  return lines.join('\n');
}

function sortedByName<T>(map: ReadonlyMap<string, T>): Array<[string, T]> {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const UNSET = '(unset)';
const MAX_VALUE_CHARS = 60;

function fieldChanges(before: JobDefinition, after: JobDefinition): FieldChange[] {
  // The parsed schedule follows from its text; compare it only when the texts are equal (a record from another dcron version).
  const withParsed = before.scheduleText === after.scheduleText;
  const a = flatten(summaryView(before, withParsed));
  const b = flatten(summaryView(after, withParsed));
  const changes: FieldChange[] = [];
  for (const field of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(field);
    const y = b.get(field);
    if (x !== y) changes.push({ field, before: x === undefined ? UNSET : shorten(x), after: y === undefined ? UNSET : shorten(y) });
  }
  return changes;
}

/** The fields a user wrote, named for reading; `source` is left out because moving a line is not a change. */
function summaryView(def: JobDefinition, withParsed: boolean): Record<string, unknown> {
  return {
    schedule: def.scheduleText,
    ...(withParsed ? { parsedSchedule: def.schedule } : {}),
    tz: def.tz,
    command: def.command,
    stdin: def.stdin,
    shell: def.shell,
    env: def.env,
    options: def.options,
  };
}

/** Nested objects become dotted paths; arrays and scalars are leaves, as JSON text. */
function flatten(value: Record<string, unknown>, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [k, v] of Object.entries(value)) {
    const path = prefix + k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${path}.`, out);
    else if (v !== undefined) out.set(path, JSON.stringify(v));
  }
  return out;
}

function shorten(text: string): string {
  return text.length <= MAX_VALUE_CHARS ? text : `${text.slice(0, MAX_VALUE_CHARS - 1)}…`;
}

function oneLine(text: string): string {
  return shorten(text.replace(/\s*\n\s*/g, ' '));
}
