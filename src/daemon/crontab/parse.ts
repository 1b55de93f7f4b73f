/**
 * The crontab parser's entry points: text in, jobs and located diagnostics
 * out. Pure: no files, no clock, no process environment.
 */
import type { ParseOptions, ParseResult, ScheduleSpec } from './types.js';
import { CrontabReader } from './crontab-reader.js';
import { parseWholeSchedule } from './schedule-spec.js';
import { columnAt, isProblem } from './text.js';

export { formatDiagnostic } from './diagnostic.js';

export function parseCrontab(text: string, opts: ParseOptions): ParseResult {
  const reader = new CrontabReader(opts);
  for (const [i, line] of splitLines(text).entries()) reader.read(i + 1, line);
  return reader.finish();
}

/** LF or CRLF; a leading BOM and a missing final newline are both fine. */
function splitLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  // A final newline ends the last line rather than starting an empty one.
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
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
