/**
 * Cron's `%` rule: the first unescaped `%` ends the command and starts its
 * stdin, where every further unescaped `%` is a newline; `\%` is a literal `%`.
 * As in Vixie cron, a backslash escapes the character after it while scanning
 * (so `\\%` is a backslash then a real `%`), but only `\%` loses its backslash:
 * every other escape is left for the shell.
 */

export interface CommandParts {
  command: string;
  /** null when the line has no unescaped `%`. */
  stdin: string | null;
  /** Offset in the raw text of the `%` that ended the command, or -1. */
  stdinStart: number;
}

/** A backslash pair or a bare `%`, scanned left to right so pairs never overlap. */
const ESCAPE_OR_PERCENT = /\\[\s\S]?|%/g;

export function splitCommand(raw: string): CommandParts {
  // Most commands have neither: nothing to scan for.
  if (!raw.includes('%') && !raw.includes('\\')) return { command: raw, stdin: null, stdinStart: -1 };
  const stdinStart = firstUnescapedPercent(raw);
  if (stdinStart < 0) return { command: unescapePercents(raw), stdin: null, stdinStart };
  return {
    command: unescapePercents(raw.slice(0, stdinStart)),
    stdin: percentsToNewlines(raw.slice(stdinStart + 1)),
    stdinStart,
  };
}

function firstUnescapedPercent(text: string): number {
  for (const match of text.matchAll(ESCAPE_OR_PERCENT)) {
    if (match[0] === '%') return match.index;
  }
  return -1;
}

function unescapePercents(text: string): string {
  return text.replace(ESCAPE_OR_PERCENT, (match) => (match === '\\%' ? '%' : match));
}

function percentsToNewlines(text: string): string {
  return text.replace(ESCAPE_OR_PERCENT, (match) => (match === '%' ? '\n' : match === '\\%' ? '%' : match));
}
