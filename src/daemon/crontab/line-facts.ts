/**
 * What one crontab line says on its own, before the lines above it are taken
 * into account: its kind, and for a job line its schedule, command, default
 * name and the warnings it earns. Everything here is a pure function of the
 * line's text, so the facts of a line can be kept and reused for as long as
 * the text is unchanged (line-cache.ts); what depends on the lines above
 * (environment, CRON_TZ, directives, duplicate names) is crontab-reader.ts's.
 *
 * Facts are shared between parses and jobs: they are never mutated, except to
 * fill in a memo (a job's hashed name, a directive's settings) that is itself
 * a pure function of the text.
 */
import type { ScheduleSpec } from './types.js';
import { applyDirective, defaultSettings, type JobSettings } from './directive-keys.js';
import { looksLikeDirective, parseDirectiveLine, type DirectiveLine, type DirectivePair } from './directives.js';
import { parseEnvLine, type EnvAssignment } from './env-line.js';
import { cachedSchedule, parseLeadingSchedule, type ParsedSchedule } from './schedule-spec.js';
import { splitCommand } from './command.js';
import { defaultJobName } from './job-name.js';
import { fieldLikeCommand, looksLikeField, percentInDateFormat } from './warnings.js';
import { detach, isBlank, isProblem, splitWords, wordBounds, type Problem, type Word } from './text.js';

export type LineFacts = BlankLine | CommentLine | DirectiveLineFacts | EnvLine | JobLine | BadJobLine;

export interface BlankLine {
  kind: 'blank';
}

export interface CommentLine {
  kind: 'comment';
  /** `# dcron key=...`: most likely meant as a directive. */
  lookalike: boolean;
}

export interface DirectiveLineFacts {
  kind: 'directive';
  directive: DirectiveLine;
  /** Memo of soloSettings(); undefined until asked. */
  solo?: Readonly<JobSettings> | null;
}

export interface EnvLine {
  kind: 'env';
  env: EnvAssignment;
}

/** A job line that cannot run whatever is above it: a bad schedule, or no command. */
export interface BadJobLine {
  kind: 'bad-job';
  problem: Problem;
}

export interface JobLine {
  kind: 'job';
  scheduleText: string;
  schedule: ScheduleSpec;
  /** The line's first word, where problems about the whole job point (see firstWordOf). */
  firstWordIndex: number;
  firstWordLength: number;
  /** The command as written, trailing blanks dropped: what the default name hashes. */
  rawCommand: string;
  command: string;
  stdin: string | null;
  /** Valid but suspicious; reported unless the job's directives failed. */
  warnings: readonly Problem[];
  /** Memo of hashedName(); undefined until asked. */
  defaultName?: string;
}

const BLANK: BlankLine = Object.freeze({ kind: 'blank' });
const NO_WARNINGS: readonly Problem[] = Object.freeze([]);

/**
 * Words a job line needs split: up to six schedule fields and the first word
 * of the command (parseLeadingSchedule only tells six fields from five when a
 * seventh word follows). The rest of the line is the command, taken whole.
 */
const JOB_LINE_WORDS = 7;

export function readLineFacts(text: string): LineFacts {
  let first = 0;
  while (first < text.length && isBlank(text.charCodeAt(first))) first++;
  if (first === text.length) return BLANK;
  if (text[first] === '#') return readCommentLine(text);
  if (mayBeEnvLine(text, first)) {
    const env = parseEnvLine(text);
    if (env !== null) return { kind: 'env', env };
  }
  return readJobLine(text);
}

/**
 * A cheap necessary condition for parseEnvLine: the first word (up to a
 * blank or `=`) is followed by optional blanks and `=`. A job line's first
 * word is a field or a nickname, so it almost never gets to the regex.
 */
function mayBeEnvLine(text: string, first: number): boolean {
  let i = first;
  while (i < text.length && !isBlank(text.charCodeAt(i)) && text[i] !== '=') i++;
  if (i === first) return false;
  while (i < text.length && isBlank(text.charCodeAt(i))) i++;
  return text[i] === '=';
}

/**
 * Directive lines without `name=` by text: such a line is typically repeated
 * above many jobs (`#dcron overlap=skip catchup=1h`), and sharing its facts
 * shares its settings, so those jobs share one options object. A named one
 * is unique by nature and not kept. Cleared when full.
 */
const directiveCache = new Map<string, DirectiveLineFacts>();
const DIRECTIVE_CACHE_MAX = 1_000;

function readCommentLine(text: string): DirectiveLineFacts | CommentLine {
  const hit = directiveCache.get(text);
  if (hit !== undefined) return hit;
  const directive = parseDirectiveLine(text);
  if (directive === null) return { kind: 'comment', lookalike: looksLikeDirective(text) };
  const facts: DirectiveLineFacts = { kind: 'directive', directive };
  if (namePair(facts) !== null) return facts;
  // Kept past this file's version: read from a copy, so as not to keep that version's whole text.
  const own = detach(text);
  const kept: DirectiveLineFacts = { kind: 'directive', directive: parseDirectiveLine(own)! };
  if (directiveCache.size >= DIRECTIVE_CACHE_MAX) directiveCache.clear();
  directiveCache.set(own, kept);
  return kept;
}

/** Offsets of a line's first words, reused from line to line (the parser is synchronous). */
const bounds = new Int32Array(2 * JOB_LINE_WORDS);

function readJobLine(text: string): JobLine | BadJobLine {
  return readKnownScheduleJob(text) ?? readAnyJobLine(text);
}

/**
 * The common case: a schedule read before (schedule-spec.ts cachedSchedule)
 * and a plain command. Found from the words' offsets, without the word
 * objects and strings the general case builds; null for anything else.
 */
function readKnownScheduleJob(text: string): JobLine | BadJobLine | null {
  const count = wordBounds(text, JOB_LINE_WORDS, bounds);
  if (count === 0 || text.charCodeAt(bounds[0]) === AT) return null;
  const schedule = cachedSchedule(text, bounds[0], bounds[2 * Math.min(count, 6) - 1], count >= 7);
  if (schedule === undefined || count <= schedule.wordCount) return null;
  const commandIndex = bounds[2 * schedule.wordCount];
  // A command that looks like a field earns a warning, which needs the words: the general case.
  if (schedule.spec.kind === 'cron' && !schedule.spec.fields.hasSeconds && looksLikeField(text.slice(commandIndex, bounds[2 * schedule.wordCount + 1]))) return null;
  return jobLine(text, schedule, commandIndex, bounds[0], bounds[1] - bounds[0], null);
}

const AT = 0x40;

function readAnyJobLine(text: string): JobLine | BadJobLine {
  const words = splitWords(text, JOB_LINE_WORDS);
  const schedule = parseLeadingSchedule(words, text);
  if (isProblem(schedule)) return { kind: 'bad-job', problem: schedule };
  const commandWord = words[schedule.wordCount];
  if (commandWord === undefined) {
    return { kind: 'bad-job', problem: { index: text.trimEnd().length, message: 'missing command', text: '' } };
  }
  return jobLine(text, schedule, commandWord.index, words[0].index, words[0].text.length, fieldLikeCommand(words, schedule));
}

function jobLine(text: string, schedule: ParsedSchedule, commandIndex: number, firstWordIndex: number, firstWordLength: number, fieldLike: Problem | null): JobLine | BadJobLine {
  // Trailing blanks are invisible; they must not change the command or the job's hashed name.
  const rawCommand = text.slice(commandIndex).trimEnd();
  const parts = splitCommand(rawCommand);
  if (parts.command.trim() === '') {
    return { kind: 'bad-job', problem: { index: commandIndex, message: `empty command before '%'`, text: '%' } };
  }
  const percent = percentInDateFormat(rawCommand, commandIndex, parts.stdinStart);
  const warnings = percent === null && fieldLike === null ? NO_WARNINGS : [percent, fieldLike].filter((w): w is Problem => w !== null);
  return {
    kind: 'job',
    scheduleText: schedule.scheduleText,
    schedule: schedule.spec,
    firstWordIndex,
    firstWordLength,
    rawCommand,
    command: parts.command,
    stdin: parts.stdin,
    warnings,
  };
}

/** The first word of a job line, `text`. */
export function firstWordOf(line: JobLine, text: string): Word {
  return { index: line.firstWordIndex, text: text.slice(line.firstWordIndex, line.firstWordIndex + line.firstWordLength) };
}

/** The name of a job line without `name=`. */
export function hashedName(line: JobLine): string {
  return (line.defaultName ??= defaultJobName(line.scheduleText, line.rawCommand));
}

/**
 * The settings a directive line gives when it is the only directive above
 * its job, or null when it has any problem (the reader then reports them).
 * The result is frozen and shared by every job below an identical line, so a
 * file that repeats `#dcron overlap=skip catchup=1h` keeps one options object.
 */
export function soloSettings(facts: DirectiveLineFacts): Readonly<JobSettings> | null {
  if (facts.solo !== undefined) return facts.solo;
  facts.solo = null;
  if (facts.directive.problems.length > 0) return null;
  const settings = defaultSettings();
  const keys = new Set<string>();
  for (const pair of facts.directive.pairs) {
    if (keys.has(pair.key) || !applyDirective(settings, pair.key, pair.value).ok) return null;
    keys.add(pair.key);
  }
  Object.freeze(settings.options);
  return (facts.solo = Object.freeze(settings));
}

/** Where `name=` is written on a directive line. */
export function namePair(facts: DirectiveLineFacts): DirectivePair | null {
  return facts.directive.pairs.find((pair) => pair.key === 'name') ?? null;
}
