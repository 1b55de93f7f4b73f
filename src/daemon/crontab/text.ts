/**
 * Words of a line with their positions, so every problem the parser finds can
 * point at the exact text that caused it.
 */

/** A run of non-blank characters and its 0-based offset in the text it came from. */
export interface Word {
  text: string;
  index: number;
}

/** A problem located in some text, by 0-based offset; converted to a column at the edge. */
export interface Problem {
  index: number;
  message: string;
  text: string;
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'message' in value && 'index' in value;
}

/** Runs of non-blanks: cron separates fields with spaces and tabs only. */
export function splitWords(text: string): Word[] {
  return [...text.matchAll(/[^ \t]+/g)].map((match) => ({ text: match[0], index: match.index }));
}

/** Split a word on every `separator`, keeping empty pieces so `1,,2` can be reported. */
export function splitWord(word: Word, separator: string): Word[] {
  const pieces: Word[] = [];
  let start = 0;
  for (const text of word.text.split(separator)) {
    pieces.push({ text, index: word.index + start });
    start += text.length + separator.length;
  }
  return pieces;
}

export function sliceWord(word: Word, start: number, end = word.text.length): Word {
  return { text: word.text.slice(start, end), index: word.index + start };
}

/**
 * 1-based column of a string offset, counted in characters (code points) so
 * that a non-BMP character before the error does not shift the caret.
 */
export function columnAt(text: string, index: number): number {
  return [...text.slice(0, index)].length + 1;
}
