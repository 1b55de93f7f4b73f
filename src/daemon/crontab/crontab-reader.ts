/**
 * Reads a crontab line by line, carrying what earlier lines set (environment,
 * CRON_TZ, directives waiting for their job) into the lines after them.
 */
import type { Diagnostic, JobDefinition, ParseOptions, ParseResult } from './types.js';
import { applyDirective, defaultSettings, type JobSettings } from './directive-keys.js';
import { looksLikeDirective, parseDirectiveLine, type DirectiveLine, type DirectivePair } from './directives.js';
import { diagnosticAt, type SourceLine } from './diagnostic.js';
import { parseEnvLine, type EnvAssignment } from './env-line.js';
import { parseLeadingSchedule, type ParsedSchedule } from './schedule-spec.js';
import { splitCommand } from './command.js';
import { defaultJobName } from './job-name.js';
import { isValidTimeZone } from '../schedule/zone.js';
import { fieldLikeCommand, percentInDateFormat } from './warnings.js';
import { isProblem, splitWords, type Problem, type Word } from './text.js';

/** Directive lines read so far, waiting for the job line right below them. */
interface PendingDirectives {
  first: SourceLine;
  /** Offset of `#dcron` on the first line. */
  index: number;
  settings: JobSettings;
  /** Line each key was set on, to reject a key set twice for one job. */
  keyLines: Map<string, number>;
  /** Where `name=` was written, to point a duplicate name at it. */
  nameAt: { source: SourceLine; pair: DirectivePair } | null;
  /** A directive was invalid: the job below is not loaded rather than loaded without it. */
  failed: boolean;
}

/**
 * CRON_TZ in effect. After an invalid CRON_TZ the zone of the lines below is
 * unknown; they are rejected rather than silently scheduled in another zone.
 */
type CronTz = { zone: string | null } | { invalidOnLine: number };

export class CrontabReader {
  private readonly env: Record<string, string> = {};
  private cronTz: CronTz = { zone: null };
  private pending: PendingDirectives | null = null;
  private readonly jobs: JobDefinition[] = [];
  /** Job name -> line of the job that took it. */
  private readonly nameLines = new Map<string, number>();
  private readonly diagnostics: Diagnostic[] = [];

  constructor(private readonly opts: ParseOptions) {}

  read(lineNumber: number, text: string): void {
    const source: SourceLine = { file: this.opts.file, line: lineNumber, text };
    if (/^[ \t]*$/.test(text)) return this.dropDirectives(`line ${lineNumber} is blank`);
    const directive = parseDirectiveLine(text);
    if (directive !== null) return this.readDirective(source, directive);
    if (/^[ \t]*#/.test(text)) return this.readComment(source);
    const env = parseEnvLine(text);
    if (env !== null) return this.readEnv(source, env);
    this.readJob(source);
  }

  finish(): ParseResult {
    this.dropDirectives('the file ends');
    const diagnostics = [...this.diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
    return { jobs: this.jobs, env: { ...this.env }, diagnostics };
  }

  private readComment(source: SourceLine): void {
    this.dropDirectives(`line ${source.line} is a comment`);
    if (looksLikeDirective(source.text)) {
      const index = source.text.indexOf('#');
      this.report('warning', source, { index, message: `'# dcron' is a plain comment; write '#dcron' (no space) for a directive`, text: '#' });
    }
  }

  private readEnv(source: SourceLine, env: EnvAssignment): void {
    this.dropDirectives(`line ${source.line} sets the environment`);
    if (env.name === 'CRON_TZ' && !this.setCronTz(source, env)) return;
    this.env[env.name] = env.value;
  }

  /** An empty CRON_TZ goes back to the default zone. Returns false when the zone is invalid. */
  private setCronTz(source: SourceLine, env: EnvAssignment): boolean {
    if (env.value === '' || isValidTimeZone(env.value)) {
      this.cronTz = { zone: env.value === '' ? null : env.value };
      return true;
    }
    this.report('error', source, { index: env.valueIndex, message: `unknown time zone '${env.value}'`, text: env.valueText });
    this.cronTz = { invalidOnLine: source.line };
    return false;
  }

  private readDirective(source: SourceLine, directive: DirectiveLine): void {
    const block = (this.pending ??= {
      first: source,
      index: directive.index,
      settings: defaultSettings(),
      keyLines: new Map(),
      nameAt: null,
      failed: false,
    });
    for (const problem of directive.problems) this.rejectDirective(block, source, problem);
    for (const pair of directive.pairs) this.applyPair(block, source, pair);
  }

  private applyPair(block: PendingDirectives, source: SourceLine, pair: DirectivePair): void {
    const firstLine = block.keyLines.get(pair.key);
    if (firstLine !== undefined) {
      const message = `duplicate directive key '${pair.key}' (first set on line ${firstLine})`;
      return this.rejectDirective(block, source, { index: pair.keyIndex, message, text: pair.key });
    }
    const outcome = applyDirective(block.settings, pair.key, pair.value);
    if (outcome.ok || outcome.at === 'value') block.keyLines.set(pair.key, source.line);
    if (outcome.ok) {
      if (pair.key === 'name') block.nameAt = { source, pair };
      return;
    }
    const at = outcome.at === 'key' ? { index: pair.keyIndex, text: pair.key } : { index: pair.valueIndex, text: pair.valueText };
    this.rejectDirective(block, source, { ...at, message: outcome.message });
  }

  private rejectDirective(block: PendingDirectives, source: SourceLine, problem: Problem): void {
    this.report('error', source, problem);
    block.failed = true;
  }

  /**
   * Directives that no job line follows are an error, not a warning: the
   * options they meant to set (a timeout, `mode=all`, a name the daemon knows
   * the job by) would otherwise vanish without `validate` failing.
   */
  private dropDirectives(reason: string): void {
    const block = this.takeDirectives();
    if (block === null) return;
    const message = `directive is not directly above a job line (${reason})`;
    this.report('error', block.first, { index: block.index, message, text: '#dcron' });
  }

  private takeDirectives(): PendingDirectives | null {
    const block = this.pending;
    this.pending = null;
    return block;
  }

  private readJob(source: SourceLine): void {
    const block = this.takeDirectives();
    const words = splitWords(source.text);
    const schedule = parseLeadingSchedule(words);
    if (isProblem(schedule)) return this.report('error', source, schedule);
    const commandWord = words[schedule.wordCount];
    if (commandWord === undefined) {
      return this.report('error', source, { index: source.text.trimEnd().length, message: 'missing command', text: '' });
    }
    // Trailing blanks are invisible; they must not change the command or the job's hashed name.
    const rawCommand = source.text.slice(commandWord.index).trimEnd();
    const parts = splitCommand(rawCommand);
    if (parts.command.trim() === '') {
      return this.report('error', source, { index: commandWord.index, message: `empty command before '%'`, text: '%' });
    }
    // The directives' own errors are already reported; the job waits for them to be fixed.
    if (block?.failed) return;
    this.warnAboutCommand(source, words, schedule, rawCommand, parts.stdinStart);

    const settings = block?.settings ?? defaultSettings();
    const tz = this.resolveTz(source, settings, words[0]);
    if (tz === null) return;
    const name = settings.name ?? defaultJobName(schedule.scheduleText, rawCommand);
    if (!this.claimName(name, source, block, words[0])) return;
    this.jobs.push({
      name,
      scheduleText: schedule.scheduleText,
      schedule: schedule.spec,
      tz,
      command: parts.command,
      stdin: parts.stdin,
      shell: this.env.SHELL || this.opts.defaultShell || '/bin/sh',
      env: { ...this.env },
      options: settings.options,
      source: { file: this.opts.file, line: source.line },
    });
  }

  private warnAboutCommand(source: SourceLine, words: Word[], schedule: ParsedSchedule, rawCommand: string, stdinStart: number): void {
    const commandIndex = words[schedule.wordCount].index;
    const warnings = [percentInDateFormat(rawCommand, commandIndex, stdinStart), fieldLikeCommand(words, schedule)];
    for (const warning of warnings) if (warning !== null) this.report('warning', source, warning);
  }

  /** `tz=`, else CRON_TZ, else the reading host's zone; null (reported) when CRON_TZ was invalid. */
  private resolveTz(source: SourceLine, settings: JobSettings, firstWord: Word): string | null {
    if (settings.tz !== null) return settings.tz;
    if ('zone' in this.cronTz) return this.cronTz.zone ?? this.opts.defaultTz;
    const message = `time zone unknown: CRON_TZ on line ${this.cronTz.invalidOnLine} is invalid`;
    this.report('error', source, { index: firstWord.index, message, text: firstWord.text });
    return null;
  }

  /** Takes `name` for the job on `source`, or reports it taken and returns false. */
  private claimName(name: string, source: SourceLine, block: PendingDirectives | null, firstWord: Word): boolean {
    const firstLine = this.nameLines.get(name);
    if (firstLine === undefined) {
      this.nameLines.set(name, source.line);
      return true;
    }
    if (block?.nameAt) {
      const { source: at, pair } = block.nameAt;
      const message = `duplicate job name '${name}' (first defined on line ${firstLine})`;
      this.report('error', at, { index: pair.valueIndex, message, text: pair.valueText });
    } else {
      const message = `duplicate job '${name}': same schedule and command as line ${firstLine}; give one a '#dcron name='`;
      this.report('error', source, { index: firstWord.index, message, text: firstWord.text });
    }
    return false;
  }

  private report(severity: Diagnostic['severity'], source: SourceLine, problem: Problem): void {
    this.diagnostics.push(diagnosticAt(severity, source, problem));
  }
}
