/**
 * The crontab parser's entry points: text in, jobs and located diagnostics
 * out. Pure: no files, no clock, no process environment.
 */
import { withJobGraphChecks } from './job-graph.js';
import type { ParseOptions, ParseResult, ScheduleSpec } from './types.js';
import { CrontabReader } from './crontab-reader.js';
import { splitLines } from './lines.js';
import { parseWholeSchedule } from './schedule-spec.js';
import { columnAt, isProblem } from './text.js';

export { formatDiagnostic } from './diagnostic.js';
export { CrontabParser } from './crontab-parser.js';

export function parseCrontab(text: string, opts: ParseOptions): ParseResult {
  const reader = new CrontabReader(opts);
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) reader.read(i + 1, lines[i]);
  return withJobGraphChecks(reader.finish(), text, opts.file);
}

export type ScheduleTextResult =
  | { ok: true; spec: ScheduleSpec; scheduleText: string }
  | { ok: false; column: number; message: string; text: string };

/** A schedule alone, as `dcron next EXPR` takes it: fields, a nickname, `@every`, `@delay` or `@reboot`. */
export function parseScheduleText(text: string): ScheduleTextResult {
  const parsed = parseWholeSchedule(text);
  if (isProblem(parsed)) return { ok: false, column: columnAt(text, parsed.index), message: parsed.message, text: parsed.text };
  return { ok: true, spec: parsed.spec, scheduleText: parsed.scheduleText };
}
