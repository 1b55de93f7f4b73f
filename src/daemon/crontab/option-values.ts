/**
 * The kinds of value a `#dcron` key takes, each with its bounds held once.
 * A kind reads directive text (with the messages users see in `validate`)
 * and checks a stored value (a job record another host wrote), from the same
 * bounds, so the two can never disagree on what a valid value is.
 */
import { formatDuration, parseDuration } from '../duration.js';
import { parseSize } from './size.js';
import { JOB_NAME } from './job-name.js';
import { isValidTimeZone } from '../schedule/zone.js';

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
