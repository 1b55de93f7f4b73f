/**
 * The value stored at keys.job(name): one job definition plus who published it.
 * Values come from other hosts (maybe another dcron version, maybe written by
 * hand with etcdctl), so decoding checks every field the scheduler and the
 * executor read, options and zone with the bounds their directives have
 * (option-schema.ts). A bad value becomes a JobRecordError that the caller logs
 * and skips, instead of a crash somewhere downstream.
 */
import type { JobDefinition, ScheduleSpec } from '../../crontab/types.js';
import { parseScheduleText } from '../../crontab/parse.js';
import { DcronError } from '../../errors.js';
import { directiveKey, OPTION_KEYS, storedValueProblem, type DirectiveKey } from '../../crontab/option-schema.js';
import { SAFE_SEGMENT } from './keys.js';

/**
 * 2: the parsed schedule is not stored; it is read again from scheduleText.
 * The expanded cron fields were half of every record, and 100,000 records
 * are written at a first sync and read by every host that joins.
 * 1 (stored the schedule) is still read.
 */
export const JOB_RECORD_VERSION = 2;

export interface JobRecord {
  /** Always the current version once decoded. */
  v: typeof JOB_RECORD_VERSION;
  def: JobDefinition;
  /** Node id of the host that wrote the record: the only host that may remove the job. */
  writer: string;
  /** Crontab path on the writer. */
  file: string;
  /** Hash of the writer's whole crontab, so an operator can tell which hosts share a file. */
  fileHash: string;
  writtenMs: number;
}

/** A value under the jobs prefix that is not a job record this version can use. */
export class JobRecordError extends DcronError {
  constructor(readonly job: string, readonly reason: string) {
    super(`job record '${job}' is unusable: ${reason}`);
  }
}

export function encodeJobRecord(record: JobRecord): string {
  const { schedule: _derived, ...def } = record.def;
  return JSON.stringify({ ...record, v: JOB_RECORD_VERSION, def });
}

/** `job` is the name taken from the key; a record naming another job is refused, so no key can shadow another job. */
export function decodeJobRecord(job: string, text: string): JobRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JobRecordError(job, 'not JSON');
  }
  try {
    return checkRecord(value, job);
  } catch (err) {
    if (err instanceof ShapeError) throw new JobRecordError(job, err.message);
    throw err;
  }
}

/**
 * Same job wherever its line sits and whoever wrote it. All of `source` is
 * ignored, the path too: hosts may keep the same crontab at different paths,
 * and that must not make their identical jobs overwrite each other.
 */
export function sameDefinition(a: JobDefinition, b: JobDefinition): boolean {
  const x = withoutSource(a);
  const y = withoutSource(b);
  // The plain comparison settles the usual case; key order can differ when another dcron version wrote the record.
  return JSON.stringify(x) === JSON.stringify(y) || canonicalJson(x) === canonicalJson(y);
}

function withoutSource(def: JobDefinition): Omit<JobDefinition, 'source'> {
  const { source: _source, ...rest } = def;
  return rest;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/* ---- shape checks: each throws ShapeError naming the first bad field ---- */

class ShapeError extends Error {}

type Obj = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new ShapeError(`${path}: ${what}`);
}

function obj(v: unknown, path: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, 'not an object');
  return v as Obj;
}

function str(v: unknown, path: string, pattern?: RegExp): string {
  if (typeof v !== 'string') fail(path, 'not a string');
  if (pattern && !pattern.test(v)) fail(path, `'${v}' is not allowed`);
  return v;
}

function strOrNull(v: unknown, path: string): void {
  if (v !== null) str(v, path);
}

function bool(v: unknown, path: string): void {
  if (typeof v !== 'boolean') fail(path, 'not a boolean');
}

function int(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `not an integer in ${min}-${max}`);
  return v;
}

function ints(v: unknown, path: string, min: number, max: number): void {
  if (!Array.isArray(v)) fail(path, 'not an array');
  v.forEach((x, i) => int(x, `${path}[${i}]`, min, max));
}

function checkRecord(value: unknown, job: string): JobRecord {
  const r = obj(value, 'record');
  if (r.v !== 1 && r.v !== JOB_RECORD_VERSION) fail('v', `unsupported record version ${JSON.stringify(r.v)}`);
  str(r.writer, 'writer', SAFE_SEGMENT);
  str(r.file, 'file');
  str(r.fileHash, 'fileHash');
  if (typeof r.writtenMs !== 'number' || !Number.isFinite(r.writtenMs)) fail('writtenMs', 'not a number');
  const d = obj(r.def, 'def');
  // SAFE_SEGMENT rather than the schema's name kind: the name becomes a key, whatever a directive allows (the two are the same pattern today).
  if (str(d.name, 'def.name', SAFE_SEGMENT) !== job) fail('def.name', `names job '${d.name}', not '${job}'`);
  const scheduleText = str(d.scheduleText, 'def.scheduleText');
  let def = d;
  if (r.v === 1) checkSchedule(obj(d.schedule, 'def.schedule'));
  else {
    // In the parser's key order, so sameDefinition's plain comparison with a parsed job holds.
    const { name, scheduleText: _text, schedule: _ignored, ...rest } = d;
    def = { name, scheduleText, schedule: scheduleFromText(scheduleText), ...rest };
  }
  checkDefinition(def);
  return { ...r, v: JOB_RECORD_VERSION, def } as unknown as JobRecord;
}

/** Parsed schedules by text: 100,000 records share far fewer schedules, and specs are frozen, so shareable. */
const specs = new Map<string, ScheduleSpec>();
const SPEC_CACHE_MAX = 50_000;

function scheduleFromText(text: string): ScheduleSpec {
  const cached = specs.get(text);
  if (cached !== undefined) return cached;
  const parsed = parseScheduleText(text);
  if (!parsed.ok) fail('def.scheduleText', `'${text}' is not a schedule: ${parsed.message}`);
  if (specs.size >= SPEC_CACHE_MAX) specs.clear();
  const spec = Object.freeze(parsed.spec);
  specs.set(text, spec);
  return spec;
}

function checkDefinition(d: Obj): void {
  checkValue(TZ, d.tz, 'def.tz');
  str(d.command, 'def.command');
  strOrNull(d.stdin, 'def.stdin');
  str(d.shell, 'def.shell');
  for (const [k, v] of Object.entries(obj(d.env, 'def.env'))) str(v, `def.env.${k}`);
  checkOptions(obj(d.options, 'def.options'));
  const source = obj(d.source, 'def.source');
  str(source.file, 'def.source.file');
  int(source.line, 'def.source.line', 1);
}

const CRON_RANGES = { second: [0, 59], minute: [0, 59], hour: [0, 23], dom: [1, 31], month: [1, 12], dow: [0, 6] } as const;

function checkSchedule(s: Obj): void {
  switch (s.kind) {
    case 'cron': {
      const fields = obj(s.fields, 'def.schedule.fields');
      for (const [name, [min, max]] of Object.entries(CRON_RANGES)) {
        const path = `def.schedule.fields.${name}`;
        const f = obj(fields[name], path);
        str(f.text, `${path}.text`);
        bool(f.star, `${path}.star`);
        ints(f.values, `${path}.values`, min, max);
      }
      const dom = fields.dom as Obj;
      bool(dom.last, 'def.schedule.fields.dom.last');
      const dow = fields.dow as Obj;
      ints(dow.lastOf, 'def.schedule.fields.dow.lastOf', 0, 6);
      if (!Array.isArray(dow.nth)) fail('def.schedule.fields.dow.nth', 'not an array');
      dow.nth.forEach((pair: unknown, i) => {
        if (!Array.isArray(pair) || pair.length !== 2) fail(`def.schedule.fields.dow.nth[${i}]`, 'not a [weekday, nth] pair');
        int(pair[0], `def.schedule.fields.dow.nth[${i}][0]`, 0, 6);
        int(pair[1], `def.schedule.fields.dow.nth[${i}][1]`, 1, 5);
      });
      bool(fields.hasSeconds, 'def.schedule.fields.hasSeconds');
      return;
    }
    case 'every':
      int(s.intervalMs, 'def.schedule.intervalMs', 1);
      return;
    case 'delay':
      int(s.delayMs, 'def.schedule.delayMs', 1);
      return;
    case 'reboot':
    case 'after':
      return;
    default:
      fail('def.schedule.kind', `unknown kind ${JSON.stringify(s.kind)}`);
  }
}

const TZ = directiveKey('tz')!;

/** Checks a stored value with the bounds its directive has, so no host runs what no crontab could say. */
function checkValue(spec: DirectiveKey, value: unknown, path: string): void {
  const problem = storedValueProblem(spec, value);
  if (problem !== null) fail(path, problem);
}

function checkOptions(o: Obj): void {
  // Older dcron versions write no onFailureWebhook: read that as none.
  o.onFailureWebhook ??= null;
  // Nor shards or dependencies: an unsharded job on its schedule.
  // (Absent, that is: a stored null is a value, checked like any.)
  if (o.shards === undefined) o.shards = 1;
  if (o.after === undefined) o.after = null;
  if (o.afterFailure === undefined) o.afterFailure = null;
  // Nor slots: one slot per run.
  if (o.slots === undefined) o.slots = 1;
  // Nor a concurrency group.
  if (o.group === undefined) o.group = null;
  // Nor retry-elsewhere.
  if (o.retryElsewhere === undefined) o.retryElsewhere = false;
  // Nor requirements: any host. Appended, as the schema's last key, so the parsed key order holds.
  if (o.requires === undefined) o.requires = null;
  for (const spec of OPTION_KEYS) checkValue(spec, o[spec.field], `def.options.${spec.field}`);
}
