/** What each `#dcron` key means, and which values it accepts. */
import type { FailoverPolicy, JobOptions, OnLostPolicy, OverlapPolicy, RunMode } from './types.js';
import { formatDuration, parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { JOB_NAME } from './job-name.js';
import { isValidTimeZone } from '../schedule/zone.js';

/** Node timers cannot wait longer than 2^31-1 ms; keys that become timers stay below it. */
const MAX_TIMER_MS = 24 * 86_400_000;

/** Everything directives can set; `name` and `tz` live on the job itself, not in its options. */
export interface JobSettings {
  name: string | null;
  tz: string | null;
  options: JobOptions;
}

export function defaultSettings(): JobSettings {
  return {
    name: null,
    tz: null,
    options: {
      timeoutMs: null,
      overlap: 'skip',
      retries: 0,
      retryDelayMs: 10_000,
      catchupMs: 0,
      onLost: 'kill',
      failover: 'none',
      hosts: null,
      mode: 'once',
      jitterMs: 0,
      maxOutputBytes: 1_048_576,
      onFailure: null,
      onFailureWebhook: null,
      cwd: null,
    },
  };
}

/** The settings of a job with no directives: frozen, as every such job shares them. */
export const DEFAULT_SETTINGS: Readonly<JobSettings> = (() => {
  const settings = defaultSettings();
  Object.freeze(settings.options);
  return Object.freeze(settings);
})();

/** Applies a valid value to `settings`; returns what is wrong with an invalid one. */
type KeyHandler = (value: string, settings: JobSettings) => string | null;

const HANDLERS = new Map<string, KeyHandler>([
  ['name', setName],
  ['tz', setTimeZone],
  ['timeout', durationKey('timeout', 1, (o, ms) => (o.timeoutMs = ms))],
  ['overlap', choiceKey<OverlapPolicy>('overlap', ['skip', 'allow', 'queue', 'replace'], (o, v) => (o.overlap = v))],
  ['retries', wholeNumberKey('retries', 0, 100, (o, n) => (o.retries = n))],
  ['retry-delay', durationKey('retry-delay', 0, (o, ms) => (o.retryDelayMs = ms))],
  ['catchup', durationKey('catchup', 0, (o, ms) => (o.catchupMs = ms), Number.MAX_SAFE_INTEGER)],
  ['on-lost', choiceKey<OnLostPolicy>('on-lost', ['kill', 'finish'], (o, v) => (o.onLost = v))],
  ['failover', choiceKey<FailoverPolicy>('failover', ['none', 'rerun'], (o, v) => (o.failover = v))],
  ['hosts', textKey('hosts', (o, v) => (o.hosts = v))],
  ['mode', choiceKey<RunMode>('mode', ['once', 'all'], (o, v) => (o.mode = v))],
  ['jitter', durationKey('jitter', 0, (o, ms) => (o.jitterMs = ms))],
  ['max-output', sizeKey('max-output', (o, bytes) => (o.maxOutputBytes = bytes))],
  ['on-failure', textKey('on-failure', (o, v) => (o.onFailure = v))],
  ['on-failure-webhook', httpUrlKey('on-failure-webhook', (o, v) => (o.onFailureWebhook = v))],
  ['cwd', absolutePathKey('cwd', (o, v) => (o.cwd = v))],
]);

/** Where a rejected directive went wrong: its key or its value. */
export type DirectiveOutcome = { ok: true } | { ok: false; at: 'key' | 'value'; message: string };

/** Sets `key` from `value` when both are valid. */
export function applyDirective(settings: JobSettings, key: string, value: string): DirectiveOutcome {
  const handler = HANDLERS.get(key);
  if (handler === undefined) return { ok: false, at: 'key', message: `unknown directive key '${key}'` };
  const message = handler(value, settings);
  return message === null ? { ok: true } : { ok: false, at: 'value', message };
}

function setName(value: string, settings: JobSettings): string | null {
  if (!JOB_NAME.test(value)) {
    return `invalid name '${value}': use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`;
  }
  settings.name = value;
  return null;
}

function setTimeZone(value: string, settings: JobSettings): string | null {
  if (!isValidTimeZone(value)) return `unknown time zone '${value}'`;
  settings.tz = value;
  return null;
}

type Setter<T> = (options: JobOptions, value: T) => void;

function durationKey(key: string, minMs: number, set: Setter<number>, maxMs = MAX_TIMER_MS): KeyHandler {
  return (value, { options }) => {
    const ms = parseDuration(value);
    if (ms === null) return `invalid ${key} '${value}': expected a duration such as 90s, 5m, 1h30m or 500ms`;
    if (ms < minMs) return `${key} must be more than 0`;
    if (ms > maxMs) return `${key} must be at most ${formatDuration(maxMs)}`;
    set(options, ms);
    return null;
  };
}

function choiceKey<T extends string>(key: string, choices: readonly T[], set: Setter<T>): KeyHandler {
  const isChoice = (value: string): value is T => (choices as readonly string[]).includes(value);
  return (value, { options }) => {
    if (!isChoice(value)) return `invalid ${key} '${value}': expected ${listChoices(choices)}`;
    set(options, value);
    return null;
  };
}

function listChoices(choices: readonly string[]): string {
  return `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
}

function wholeNumberKey(key: string, min: number, max: number, set: Setter<number>): KeyHandler {
  return (value, { options }) => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) return `invalid ${key} '${value}': expected a whole number from ${min} to ${max}`;
    set(options, n);
    return null;
  };
}

function sizeKey(key: string, set: Setter<number>): KeyHandler {
  return (value, { options }) => {
    const bytes = parseSize(value);
    if (bytes === null) return `invalid ${key} '${value}': expected a size such as 1MiB, 512KiB, 10MB or a byte count`;
    if (bytes === 0) return `${key} must be more than 0`;
    set(options, bytes);
    return null;
  };
}

function textKey(key: string, set: Setter<string>): KeyHandler {
  return (value, { options }) => {
    if (value.trim() === '') return `${key} must not be empty`;
    set(options, value);
    return null;
  };
}

function absolutePathKey(key: string, set: Setter<string>): KeyHandler {
  return (value, { options }) => {
    if (!value.startsWith('/')) return `${key} must be an absolute path, got '${value}'`;
    set(options, value);
    return null;
  };
}

function httpUrlKey(key: string, set: Setter<string>): KeyHandler {
  return (value, { options }) => {
    if (!isHttpUrl(value)) return `invalid ${key} '${value}': expected an http:// or https:// URL`;
    set(options, value);
    return null;
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
