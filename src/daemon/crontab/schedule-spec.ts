/**
 * The schedule part of a job line: five or six cron fields, a nickname
 * (`@daily`), `@every 90s`, `@delay 30s` or `@reboot`.
 */
import type { CronFields, ScheduleSpec } from './types.js';
import { parseCronWords, parseFieldWords } from './fields.js';
import { parseDuration } from '../duration.js';
import { detach, isProblem, splitWords, type Problem, type Word } from './text.js';

export interface ParsedSchedule {
  spec: ScheduleSpec;
  /** The schedule's words joined by single spaces, so re-spacing a line does not rename its job. */
  scheduleText: string;
  /** How many of the words the schedule took. */
  wordCount: number;
}

const NICKNAMES = new Map<string, string>([
  ['@yearly', '0 0 1 1 *'],
  ['@annually', '0 0 1 1 *'],
  ['@monthly', '0 0 1 * *'],
  ['@weekly', '0 0 * * 0'],
  ['@daily', '0 0 * * *'],
  ['@midnight', '0 0 * * *'],
  ['@hourly', '0 * * * *'],
]);

/**
 * Parsed schedules by the words they were read from. A large crontab repeats
 * schedules, and the jobs that share one then share its parsed form (its
 * fields, its text) rather than each holding a copy. Only what parsed is
 * kept: a problem carries its words' positions. Cleared when full.
 */
const scheduleCaches = { withSeventhWord: new Map<string, ParsedSchedule>(), without: new Map<string, ParsedSchedule>() };
const SCHEDULE_CACHE_MAX = 50_000;

/**
 * The schedule at the start of a job line; the words after it are the
 * command. `line` is the text the words were split from.
 */
export function parseLeadingSchedule(words: readonly Word[], line?: string): ParsedSchedule | Problem {
  if (words[0]?.text.startsWith('@')) return parseAtSchedule(words);
  if (line === undefined || words.length === 0) return parseFieldSchedule(words);
  const last = words[Math.min(words.length, 6) - 1];
  const to = last.index + last.text.length;
  const hit = cachedSchedule(line, words[0].index, to, words.length >= 7);
  if (hit !== undefined) return hit;
  const parsed = parseFieldSchedule(words);
  if (!isProblem(parsed)) {
    Object.freeze(parsed.spec);
    const cache = words.length >= 7 ? scheduleCaches.withSeventhWord : scheduleCaches.without;
    if (cache.size >= SCHEDULE_CACHE_MAX) cache.clear();
    // A copy of the key: it is a slice of the line, and the cache outlives the file's text.
    cache.set(detach(line.slice(words[0].index, to)), Object.freeze(parsed));
  }
  return parsed;
}

/**
 * The fields schedule parsed before from the same words: those in `line`
 * from `from` (the first word's start) to `to` (the sixth word's end, or the
 * last's when fewer), with or without a seventh word after them. What the
 * fields parse to depends on those six words and on whether a seventh
 * follows; the text between is the key as written (other blanks make
 * another key, not another result).
 */
export function cachedSchedule(line: string, from: number, to: number, hasSeventhWord: boolean): ParsedSchedule | undefined {
  return (hasSeventhWord ? scheduleCaches.withSeventhWord : scheduleCaches.without).get(line.slice(from, to));
}

function parseFieldSchedule(words: readonly Word[]): ParsedSchedule | Problem {
  // Six fields only when the first six all parse and a command still follows.
  if (words.length >= 7) {
    const six = parseFieldWords(words.slice(0, 6));
    if (!isProblem(six)) return cronSchedule(six, words.slice(0, 6));
  }
  if (words.length < 5) {
    const text = words.map((w) => w.text).join(' ');
    return { index: words[0]?.index ?? 0, message: 'incomplete job line: expected five time fields and a command', text };
  }
  const five = parseFieldWords(words.slice(0, 5));
  return isProblem(five) ? five : cronSchedule(five, words.slice(0, 5));
}

/** A schedule that must be all of `text`, as `dcron next EXPR` takes it. */
export function parseWholeSchedule(text: string): ParsedSchedule | Problem {
  const words = splitWords(text);
  if (words.length === 0) return { index: 0, message: 'empty schedule', text: '' };
  if (!words[0].text.startsWith('@')) {
    const fields = parseCronWords(words, text);
    return isProblem(fields) ? fields : cronSchedule(fields, words);
  }
  const schedule = parseAtSchedule(words);
  if (isProblem(schedule) || schedule.wordCount === words.length) return schedule;
  const extra = words[schedule.wordCount];
  return { index: extra.index, message: `unexpected '${extra.text}' after '${schedule.scheduleText}'`, text: extra.text };
}

function cronSchedule(fields: CronFields, words: readonly Word[]): ParsedSchedule {
  return { spec: { kind: 'cron', fields }, scheduleText: words.map((w) => w.text).join(' '), wordCount: words.length };
}

/** Each nickname's schedule, parsed once and shared. The table is constant and valid, so these parses cannot fail. */
const NICKNAME_SCHEDULES = new Map<string, ParsedSchedule>(
  [...NICKNAMES].map(([nickname, expression]) => {
    const spec: ScheduleSpec = Object.freeze({ kind: 'cron', fields: parseFieldWords(splitWords(expression)) as CronFields });
    return [nickname, Object.freeze({ spec, scheduleText: nickname, wordCount: 1 })];
  }),
);

function parseAtSchedule(words: readonly Word[]): ParsedSchedule | Problem {
  const [at, argument] = words;
  const nickname = NICKNAME_SCHEDULES.get(at.text);
  if (nickname !== undefined) return nickname;
  if (at.text === '@reboot') return { spec: { kind: 'reboot' }, scheduleText: at.text, wordCount: 1 };
  if (at.text === '@after') return { spec: { kind: 'after' }, scheduleText: at.text, wordCount: 1 };
  if (at.text === '@every' || at.text === '@delay') return parseIntervalSchedule(at, argument);
  return { index: at.index, message: `unknown nickname '${at.text}'`, text: at.text };
}

/** `@every D` and `@delay D`: whole seconds, because every tick is a whole second. */
function parseIntervalSchedule(at: Word, argument: Word | undefined): ParsedSchedule | Problem {
  if (argument === undefined) {
    return { index: at.index, message: `${at.text} needs a duration, e.g. ${at.text} 90s`, text: at.text };
  }
  const ms = checkInterval(at.text, argument.text);
  if (typeof ms === 'string') return { index: argument.index, message: ms, text: argument.text };
  const spec: ScheduleSpec = at.text === '@every' ? { kind: 'every', intervalMs: ms } : { kind: 'delay', delayMs: ms };
  return { spec, scheduleText: `${at.text} ${argument.text}`, wordCount: 2 };
}

/** The interval in ms, or what is wrong with it. */
function checkInterval(nickname: string, text: string): number | string {
  const ms = parseDuration(text);
  if (ms === null) return `invalid duration '${text}' for ${nickname}: expected e.g. 90s, 5m or 1h30m`;
  if (ms < 1000) return `${nickname} ${text} is shorter than 1s`;
  if (ms % 1000 !== 0) return `${nickname} ${text} is not a whole number of seconds`;
  return ms;
}
