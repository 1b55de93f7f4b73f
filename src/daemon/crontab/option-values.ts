/**
 * The kinds of value a `#dcron` key takes, each with its bounds held once.
 * A kind reads directive text (with the messages users see in `validate`)
 * and checks a stored value (a job record another host wrote), from the same
 * bounds, so the two can never disagree on what a valid value is.
 */
import { formatDuration, parseDuration } from '../duration.js';
import { parseFigureSize, parseSize, writeFigureSize } from './size.js';
import { JOB_NAME } from './job-name.js';
import { isValidTimeZone } from '../schedule/zone.js';
import type { HostFigure, HostRequirement, RequirementOp } from './types.js';

export type ReadOutcome<T> = { ok: true; value: T } | { ok: false; message: string };

export interface ValueKind<T> {
  /** The value `text` stands for; the message names `key` as the user wrote it. */
  read(key: string, text: string): ReadOutcome<T>;
  /** What is wrong with a decoded value; null when `read` could have produced it. */
  check(value: unknown): string | null;
  /** Directive text that reads back as `value`. */
  write(value: T): string;
}

export const ok = <T>(value: T): ReadOutcome<T> => ({ ok: true, value });
export const bad = (message: string): ReadOutcome<never> => ({ ok: false, message });

function integerIn(value: unknown, min: number, max: number): string | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? null : `not an integer in ${min}-${max}`;
}

/** Milliseconds written as `90s`, `1h30m`, `500ms`. */
export function duration(minMs: number, maxMs: number): ValueKind<number> {
  return {
    read(key, text) {
      const ms = parseDuration(text);
      if (ms === null) return bad(`invalid ${key} '${text}': expected a duration such as 90s, 5m, 1h30m or 500ms`);
      if (ms < minMs) return bad(minMs === 1 ? `${key} must be more than 0` : `${key} must be at least ${formatDuration(minMs)}`);
      if (ms > maxMs) return bad(`${key} must be at most ${formatDuration(maxMs)}`);
      return ok(ms);
    },
    check: (value) => integerIn(value, minMs, maxMs),
    write: formatDuration,
  };
}

export function wholeNumber(min: number, max: number): ValueKind<number> {
  return {
    read(key, text) {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      return n >= min && n <= max ? ok(n) : bad(`invalid ${key} '${text}': expected a whole number from ${min} to ${max}`);
    },
    check: (value) => integerIn(value, min, max),
    write: String,
  };
}

/** Bytes written as `1MiB`, `10MB` or a byte count; never 0, which would keep nothing. */
export const byteSize: ValueKind<number> = {
  read(key, text) {
    const bytes = parseSize(text);
    if (bytes === null) return bad(`invalid ${key} '${text}': expected a size such as 1MiB, 512KiB, 10MB or a byte count`);
    return bytes === 0 ? bad(`${key} must be more than 0`) : ok(bytes);
  },
  check: (value) => integerIn(value, 1, Number.MAX_SAFE_INTEGER),
  write: String,
};

export function choice<T extends string>(choices: readonly T[]): ValueKind<T> {
  const isChoice = (value: unknown): value is T => (choices as readonly unknown[]).includes(value);
  const listed = `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
  return {
    read: (key, text) => (isChoice(text) ? ok(text) : bad(`invalid ${key} '${text}': expected ${listed}`)),
    check: (value) => (isChoice(value) ? null : `not one of ${choices.join(', ')}`),
    write: (value) => value,
  };
}

/** Free text that must say something: a blank command or selector is a mistake. */
export const text: ValueKind<string> = stringKind(
  (v) => v.trim() !== '',
  (key) => `${key} must not be empty`,
  () => 'blank',
);

export const absolutePath: ValueKind<string> = stringKind(
  (v) => v.startsWith('/'),
  (key, v) => `${key} must be an absolute path, got '${v}'`,
  (v) => `'${v}' is not an absolute path`,
);

export const httpUrl: ValueKind<string> = stringKind(
  isHttpUrl,
  (key, v) => `invalid ${key} '${v}': expected an http:// or https:// URL`,
  () => 'not an http(s) URL',
);

export const jobName: ValueKind<string> = stringKind(
  (v) => JOB_NAME.test(v),
  (_key, v) => `invalid name '${v}': use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
  (v) => `'${v}' is not allowed`,
);

/** `true` or `false`. */
export const yesNo: ValueKind<boolean> = {
  read: (key, text) => (text === 'true' ? ok(true) : text === 'false' ? ok(false) : bad(`invalid ${key} '${text}': expected true or false`)),
  check: (value) => (typeof value === 'boolean' ? null : 'not true or false'),
  write: String,
};

/** A concurrency group's name (`group=`, `--group NAME=K`): it becomes an etcd key segment. */
export const GROUP_NAME = JOB_NAME;

export const groupName: ValueKind<string> = stringKind(
  (v) => GROUP_NAME.test(v),
  (_key, v) => `invalid group '${v}': use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
  (v) => `'${v}' is not a group name`,
);

export const timeZone: ValueKind<string> = stringKind(
  isValidTimeZone,
  (_key, v) => `unknown time zone '${v}'`,
  (v) => `unknown time zone '${v}'`,
);

/** Most jobs one `after=` may name: a fan-in wider than this is a design to rethink, not a list. */
export const MAX_JOB_NAMES = 64;

/** Job names separated by commas (`after=extract,load`): each a valid name, none twice. */
export const jobNames: ValueKind<string[]> = {
  read(key, text) {
    const names = text.split(',').map((n) => n.trim());
    const bad1 = names.find((n) => !JOB_NAME.test(n));
    if (bad1 !== undefined) return bad(bad1 === '' ? `${key} has an empty job name: write job names separated by commas, e.g. ${key}=extract,load` : `invalid job name '${bad1}' in ${key}: names use letters, digits, '.', '_' or '-'`);
    if (new Set(names).size !== names.length) return bad(`${key} names a job twice`);
    if (names.length > MAX_JOB_NAMES) return bad(`${key} names ${names.length} jobs; at most ${MAX_JOB_NAMES}`);
    return ok(names);
  },
  check(value) {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_JOB_NAMES) return `not a list of 1-${MAX_JOB_NAMES} job names`;
    if (!value.every((n) => typeof n === 'string' && JOB_NAME.test(n))) return 'not a list of job names';
    return new Set(value).size === value.length ? null : 'names a job twice';
  },
  // Defensive: a caller holding an unchecked stored value may hand over anything.
  write: (value) => (Array.isArray(value) ? value.join(',') : String(value)),
};

/** Most a `requires=` load may be: far above any host's load, low enough that every value prints as a plain decimal. */
export const MAX_REQUIRED_LOAD = 1_000_000;
const FIGURES: readonly HostFigure[] = ['mem', 'load', 'disk'];
const OPS: readonly RequirementOp[] = ['>=', '>', '<=', '<'];
/** A load as `uptime` shows it: at most two decimals, so a stored load is exactly one a directive wrote. */
const LOAD = /^\d+(?:\.\d{1,2})?$/;
/** FIGURE OP VALUE; the figure and the comparison loosely, so a near miss gets a message of its own. */
const TERM = /^([A-Za-z][A-Za-z_-]*)?\s*([<>=!]+)?\s*(.*)$/;

/**
 * `requires=mem>=2GiB,load<4,disk>10G`: every term must hold on the host
 * that claims the tick. Stored as the terms in the order written, the
 * figure lowercased and sizes in bytes, so every host compares the same
 * numbers and a record can be checked without reading text.
 */
export const hostRequirements: ValueKind<HostRequirement[]> = {
  read(key, text) {
    if (text.trim() === '') return bad(`${key} must not be empty: write terms such as ${key}=mem>=2GiB,load<4`);
    const terms: HostRequirement[] = [];
    for (const raw of text.split(',')) {
      const term = readTerm(key, raw.trim());
      if (!term.ok) return term;
      if (terms.some((t) => t.figure === term.value.figure && t.op === term.value.op)) return bad(`${key}: ${term.value.figure}${term.value.op} is given twice`);
      terms.push(term.value);
    }
    return ok(Object.freeze(terms) as HostRequirement[]);
  },
  check(value) {
    if (!Array.isArray(value) || value.length === 0) return 'not a list of requirements';
    for (const term of value) {
      const problem = termProblem(term);
      if (problem !== null) return problem;
    }
    const pairs = value.map((t: HostRequirement) => `${t.figure}${t.op}`);
    return new Set(pairs).size === pairs.length ? null : 'gives a figure and comparison twice';
  },
  // Defensive, as jobNames: a caller holding an unchecked stored value may hand over anything.
  write: (value) => (Array.isArray(value) ? value.map(writeRequirement).join(',') : String(value)),
};

/** `mem>=2GiB`: one term as a directive writes it, reading back as the same term. */
export function writeRequirement(term: HostRequirement): string {
  return `${term.figure}${term.op}${term.figure === 'load' ? String(term.value) : writeFigureSize(term.value)}`;
}

function readTerm(key: string, text: string): ReadOutcome<HostRequirement> {
  if (text === '') return bad(`${key} has an empty term: write terms separated by commas, e.g. ${key}=mem>=2GiB,load<4`);
  const [, name, op, valueText] = TERM.exec(text)!;
  if (name === undefined) return bad(`${key}: '${text}' names no figure: start each term with mem, load or disk, e.g. mem>=2GiB`);
  const figure = name.toLowerCase() as HostFigure;
  if (!FIGURES.includes(figure)) return bad(`${key}: unknown figure '${name}' (mem, load or disk)`);
  if (op === undefined) return bad(`${key}: '${text}' has no comparison: write ${figure}>=VALUE, ${figure}>VALUE, ${figure}<=VALUE or ${figure}<VALUE`);
  if (!(OPS as readonly string[]).includes(op)) return bad(`${key}: unknown comparison '${op}' in '${text}': use >=, >, <= or <`);
  if (valueText === '') return bad(`${key}: '${text}' has no value after ${op}`);
  if (figure === 'load') {
    const load = LOAD.test(valueText) ? Number(valueText) : NaN;
    if (!(load <= MAX_REQUIRED_LOAD)) return bad(`${key}: invalid load '${valueText}' in '${text}': expected a number from 0 to ${MAX_REQUIRED_LOAD} with at most 2 decimals, such as 4 or 0.75`);
    return ok(Object.freeze({ figure, op: op as RequirementOp, value: load }));
  }
  const bytes = parseFigureSize(valueText);
  const what = figure === 'mem' ? 'free memory' : 'free disk';
  if (bytes === null) return bad(`${key}: invalid size '${valueText}' in '${text}': expected ${what} as a size such as 2GiB, 512MiB, 1.5G or a byte count`);
  return ok(Object.freeze({ figure, op: op as RequirementOp, value: bytes }));
}

function termProblem(term: unknown): string | null {
  if (term === null || typeof term !== 'object' || Array.isArray(term)) return 'a requirement is not an object';
  const { figure, op, value, ...rest } = term as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `a requirement has unknown fields: ${Object.keys(rest).join(', ')}`;
  if (!(FIGURES as readonly unknown[]).includes(figure)) return `unknown figure ${JSON.stringify(figure)}`;
  if (!(OPS as readonly unknown[]).includes(op)) return `unknown comparison ${JSON.stringify(op)}`;
  if (figure === 'load') {
    return typeof value === 'number' && value >= 0 && value <= MAX_REQUIRED_LOAD && LOAD.test(String(value)) ? null : `load ${JSON.stringify(value)} is not a number from 0 to ${MAX_REQUIRED_LOAD} with at most 2 decimals`;
  }
  return integerIn(value, 0, Number.MAX_SAFE_INTEGER) === null ? null : `${figure} ${JSON.stringify(value)} is not a whole number of bytes`;
}

/** A string kind: one test, and how its failure reads in a directive and in a record. */
function stringKind(holds: (v: string) => boolean, readMessage: (key: string, v: string) => string, checkMessage: (v: string) => string): ValueKind<string> {
  return {
    read: (key, v) => (holds(v) ? ok(v) : bad(readMessage(key, v))),
    check: (value) => (typeof value !== 'string' ? 'not a string' : holds(value) ? null : checkMessage(value)),
    write: (value) => value,
  };
}

/** An absolute http(s) URL with a host, as webhooks need. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
