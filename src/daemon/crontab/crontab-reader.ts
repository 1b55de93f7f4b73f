/**
 * Reads a crontab line by line, carrying what earlier lines set (environment,
 * CRON_TZ, directives waiting for their job) into the lines after them. What
 * a line says on its own comes from line-facts.ts, possibly kept from an
 * earlier parse of the file. A reader may also start in the middle of a file,
 * from the state the lines above left (crontab-parser.ts re-reads only an
 * edited region that way).
 */
import type { Diagnostic, JobDefinition, ParseOptions, ParseResult } from './types.js';
import { applyDirective, defaultSettings, DEFAULT_SETTINGS, type JobSettings } from './directive-keys.js';
import type { DirectivePair } from './directives.js';
import { diagnosticAt, type SourceLine } from './diagnostic.js';
import type { EnvAssignment } from './env-line.js';
import { firstWordOf, hashedName, namePair, readLineFacts, soloSettings, type DirectiveLineFacts, type JobLine, type LineFacts } from './line-facts.js';
import { isValidTimeZone } from '../schedule/zone.js';
import type { Problem, Word } from './text.js';

/** Directive lines read so far, waiting for the job line right below them. */
interface PendingDirectives {
  first: SourceLine;
  /** Offset of `#dcron` on the first line. */
  index: number;
  /** Frozen and shared while `solo` is set; the block's own otherwise. */
  settings: Readonly<JobSettings>;
  /**
   * Set while the block is one clean directive line whose settings are its
   * shared memo (line-facts.ts soloSettings). A second line replays it into
   * settings of the block's own first.
   */
  solo: DirectiveLineFacts | null;
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
export type CronTz = { zone: string | null } | { invalidOnLine: number };

/** What the lines above the first line read set: a reader starting mid-file. */
export interface ReaderStart {
  env: Record<string, string>;
  cronTz: CronTz;
  /** Line of the job above that took a name, if one did. */
  ownerAbove(name: string): number | undefined;
}

/** Diagnostics reported after the last line was read: when the file ended. */
export const AT_END_OF_FILE = Infinity;

const NO_KEYS: ReadonlyMap<string, number> = new Map();

export class CrontabReader {
  /** Environment and CRON_TZ in effect: what env lines set. */
  private readonly state: { env: Record<string, string>; cronTz: CronTz };
  private pending: PendingDirectives | null = null;
  private readonly jobs: JobDefinition[] = [];
  /** Job name -> line of the job that took it, among the lines this reader read. */
  private readonly nameLines = new Map<string, number>();
  /** Names a job was refused because an earlier job had taken them. */
  private readonly refusedNames = new Set<string>();
  /** In the order reported, each with the line being read when it was (AT_END_OF_FILE after the last). */
  private readonly diagnostics: Diagnostic[] = [];
  private readonly reportedAt: number[] = [];
  private lineNumber = 0;
  private readonly shell: string;

  constructor(
    private readonly opts: ParseOptions,
    private readonly start: ReaderStart | null = null,
  ) {
    this.shell = opts.defaultShell || '/bin/sh';
    this.state = { env: start ? { ...start.env } : {}, cronTz: start ? start.cronTz : { zone: null } };
  }

  /** Reads line `lineNumber`; `facts` must be readLineFacts(text), given when known from an earlier parse. */
  read(lineNumber: number, text: string, facts: LineFacts = readLineFacts(text)): void {
    this.lineNumber = lineNumber;
    switch (facts.kind) {
      case 'blank':
        return this.dropDirectives(lineNumber, 'is blank');
      case 'directive':
        return this.readDirective({ file: this.opts.file, line: lineNumber, text }, facts);
      case 'comment':
        return this.readComment(lineNumber, text, facts.lookalike);
      case 'env':
        return this.readEnv(lineNumber, text, facts.env);
      case 'bad-job':
        this.takeDirectives();
        return this.report('error', this.sourceLine(lineNumber, text), facts.problem);
      case 'job':
        return this.readJob(lineNumber, text, facts);
    }
  }

  /** After the last line: directives still waiting have no job. */
  endOfFile(): void {
    this.lineNumber = AT_END_OF_FILE;
    this.dropDirectives(null, 'the file ends');
  }

  finish(): ParseResult {
    this.endOfFile();
    return this.result();
  }

  result(): ParseResult {
    return { jobs: this.jobs, env: { ...this.state.env }, diagnostics: sortDiagnostics(this.diagnostics) };
  }

  /** What this reader found, for a parser that splices it into an earlier parse. */
  get found(): ReaderOutput {
    const { jobs, nameLines, refusedNames, diagnostics, reportedAt } = this;
    return { jobs, nameLines, refusedNames, diagnostics, reportedAt, env: this.state.env, cronTz: this.state.cronTz, pending: this.pending !== null };
  }

  private sourceLine(line: number, text: string): SourceLine {
    return { file: this.opts.file, line, text };
  }

  private readComment(lineNumber: number, text: string, lookalike: boolean): void {
    this.dropDirectives(lineNumber, 'is a comment');
    if (lookalike) {
      const index = text.indexOf('#');
      this.report('warning', this.sourceLine(lineNumber, text), { index, message: `'# dcron' is a plain comment; write '#dcron' (no space) for a directive`, text: '#' });
    }
  }

  private readEnv(lineNumber: number, text: string, env: EnvAssignment): void {
    this.dropDirectives(lineNumber, 'sets the environment');
    const problem = applyEnvLine(this.state, lineNumber, env);
    if (problem) this.report('error', this.sourceLine(lineNumber, text), problem);
  }

  private readDirective(source: SourceLine, facts: DirectiveLineFacts): void {
    if (this.pending === null) {
      // The common case, one clean directive line above its job: its settings are computed once per text.
      const solo = soloSettings(facts);
      if (solo !== null) {
        this.pending = { first: source, index: facts.directive.index, settings: solo, solo: facts, keyLines: NO_KEYS as Map<string, number>, nameAt: null, failed: false };
        return;
      }
    }
    const block = this.ownBlock(this.pending) ?? this.newBlock(source, facts.directive.index);
    this.pending = block;
    for (const problem of facts.directive.problems) this.rejectDirective(block, source, problem);
    for (const pair of facts.directive.pairs) this.applyPair(block, source, pair);
  }

  private newBlock(first: SourceLine, index: number): PendingDirectives {
    return { first, index, settings: defaultSettings(), solo: null, keyLines: new Map(), nameAt: null, failed: false };
  }

  /** `block` with settings of its own, replaying a shared solo line (which has no problems to report). */
  private ownBlock(block: PendingDirectives | null): PendingDirectives | null {
    if (block === null || block.solo === null) return block;
    const own = this.newBlock(block.first, block.index);
    for (const pair of block.solo.directive.pairs) this.applyPair(own, block.first, pair);
    return own;
  }

  private applyPair(block: PendingDirectives, source: SourceLine, pair: DirectivePair): void {
    const firstLine = block.keyLines.get(pair.key);
    if (firstLine !== undefined) {
      const message = `duplicate directive key '${pair.key}' (first set on line ${firstLine})`;
      return this.rejectDirective(block, source, { index: pair.keyIndex, message, text: pair.key });
    }
    const outcome = applyDirective(block.settings as JobSettings, pair.key, pair.value);
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
  private dropDirectives(lineNumber: number | null, why: string): void {
    const block = this.takeDirectives();
    if (block === null) return;
    const reason = lineNumber === null ? why : `line ${lineNumber} ${why}`;
    const message = `directive is not directly above a job line (${reason})`;
    this.report('error', block.first, { index: block.index, message, text: '#dcron' });
  }

  private takeDirectives(): PendingDirectives | null {
    const block = this.pending;
    this.pending = null;
    return block;
  }

  private readJob(lineNumber: number, text: string, line: JobLine): void {
    const block = this.takeDirectives();
    // The directives' own errors are already reported; the job waits for them to be fixed.
    if (block?.failed) return;
    for (const warning of line.warnings) this.report('warning', this.sourceLine(lineNumber, text), warning);

    const settings = block?.settings ?? DEFAULT_SETTINGS;
    const tz = this.resolveTz(lineNumber, text, settings, line);
    if (tz === null) return;
    const name = settings.name ?? hashedName(line);
    if (!this.claimName(name, lineNumber, text, block, line)) return;
    this.jobs.push({
      name,
      scheduleText: line.scheduleText,
      schedule: line.schedule,
      tz,
      command: line.command,
      stdin: line.stdin,
      shell: this.state.env.SHELL || this.shell,
      // A copy each: a job's environment is its own, whatever is done to another's.
      env: { ...this.state.env },
      options: settings.options,
      source: { file: this.opts.file, line: lineNumber },
    });
  }

  /** `tz=`, else CRON_TZ, else the reading host's zone; null (reported) when CRON_TZ was invalid. */
  private resolveTz(lineNumber: number, text: string, settings: Readonly<JobSettings>, line: JobLine): string | null {
    if (settings.tz !== null) return settings.tz;
    if ('zone' in this.state.cronTz) return this.state.cronTz.zone ?? this.opts.defaultTz;
    const message = `time zone unknown: CRON_TZ on line ${this.state.cronTz.invalidOnLine} is invalid`;
    const firstWord = firstWordOf(line, text);
    this.report('error', this.sourceLine(lineNumber, text), { index: firstWord.index, message, text: firstWord.text });
    return null;
  }

  /** Takes `name` for the job on line `lineNumber`, or reports it taken and returns false. */
  private claimName(name: string, lineNumber: number, text: string, block: PendingDirectives | null, line: JobLine): boolean {
    const firstLine = this.nameLines.get(name) ?? this.start?.ownerAbove(name);
    if (firstLine === undefined) {
      this.nameLines.set(name, lineNumber);
      return true;
    }
    this.refusedNames.add(name);
    const nameAt = block && this.nameAt(block);
    if (nameAt) {
      const message = `duplicate job name '${name}' (first defined on line ${firstLine})`;
      this.report('error', nameAt.source, { index: nameAt.pair.valueIndex, message, text: nameAt.pair.valueText });
    } else {
      const message = `duplicate job '${name}': same schedule and command as line ${firstLine}; give one a '#dcron name='`;
      const firstWord = firstWordOf(line, text);
      this.report('error', this.sourceLine(lineNumber, text), { index: firstWord.index, message, text: firstWord.text });
    }
    return false;
  }

  private nameAt(block: PendingDirectives): PendingDirectives['nameAt'] {
    if (block.solo === null) return block.nameAt;
    const pair = namePair(block.solo);
    return pair && { source: block.first, pair };
  }

  private report(severity: Diagnostic['severity'], source: SourceLine, problem: Problem): void {
    this.diagnostics.push(diagnosticAt(severity, source, problem));
    this.reportedAt.push(this.lineNumber);
  }
}

export interface ReaderOutput {
  jobs: JobDefinition[];
  nameLines: Map<string, number>;
  refusedNames: Set<string>;
  diagnostics: Diagnostic[];
  reportedAt: number[];
  env: Record<string, string>;
  cronTz: CronTz;
  /** Directive lines at the end are still waiting for their job. */
  pending: boolean;
}

/** By line, then column; stable, so problems at one place keep the order they were found in. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * Applies an environment line to `state`. CRON_TZ also sets the zone of the
 * lines below; an empty one goes back to the default zone, and an invalid
 * one (returned as a problem) leaves their zone unknown and the environment
 * as it was. Shared by the reader and by a parser replaying the lines above
 * an edit, so both give the same state.
 */
export function applyEnvLine(state: { env: Record<string, string>; cronTz: CronTz }, lineNumber: number, env: EnvAssignment): Problem | null {
  if (env.name === 'CRON_TZ') {
    if (env.value !== '' && !isValidTimeZone(env.value)) {
      state.cronTz = { invalidOnLine: lineNumber };
      return { index: env.valueIndex, message: `unknown time zone '${env.value}'`, text: env.valueText };
    }
    state.cronTz = { zone: env.value === '' ? null : env.value };
  }
  state.env[env.name] = env.value;
  return null;
}
