/**
 * Valid lines that rarely mean what their author wanted. Kept to mistakes
 * with a clear tell, because a warning a user cannot act on is noise.
 */
import type { ParsedSchedule } from './schedule-spec.js';
import { parseFieldWords } from './fields.js';
import { isProblem, type Problem, type Word } from './text.js';

/**
 * `date +%F` in a crontab silently loses everything from the `%` on: the
 * classic cron surprise. `+%` is a date format in practice, not a stdin split.
 */
export function percentInDateFormat(rawCommand: string, commandIndex: number, stdinStart: number): Problem | null {
  if (stdinStart <= 0 || rawCommand[stdinStart - 1] !== '+') return null;
  return {
    index: commandIndex + stdinStart,
    message: `'%' ends the command and starts its stdin; write '\\%' for a literal percent (e.g. date +\\%F)`,
    text: '%',
  };
}

const FIELD_LIKE = /^[\d*?][\d*?,/#lw-]*$/i;

/** Whether a word could be a cron field: the tell of fieldLikeCommand. */
export function looksLikeField(word: string): boolean {
  return FIELD_LIKE.test(word);
}

/**
 * A command that starts like a cron field usually means a six-field line with
 * one bad field, which then reads as five fields running a command like `8`.
 */
export function fieldLikeCommand(words: readonly Word[], schedule: ParsedSchedule): Problem | null {
  if (schedule.spec.kind !== 'cron' || schedule.spec.fields.hasSeconds) return null;
  const command = words[schedule.wordCount];
  if (!looksLikeField(command.text)) return null;
  const asSix = parseFieldWords(words.slice(0, 6));
  const why = isProblem(asSix) ? ` (as six fields: ${asSix.message})` : '';
  return {
    index: command.index,
    message: `command starts with '${command.text}', which looks like a cron field; this line was read as five fields${why}`,
    text: command.text,
  };
}
