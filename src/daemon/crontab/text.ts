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

/**
 * Runs of non-blanks: cron separates fields with spaces and tabs only. With
 * `limit`, stops after that many: a job line needs its schedule words and
 * the first word of its command, not every word of a long command.
 */
export function splitWords(text: string, limit = Infinity): Word[] {
  const words: Word[] = [];
  const length = text.length;
  let i = 0;
  while (words.length < limit) {
    while (i < length && isBlank(text.charCodeAt(i))) i++;
    if (i === length) break;
    const start = i;
    while (i < length && !isBlank(text.charCodeAt(i))) i++;
    words.push({ text: text.slice(start, i), index: start });
  }
  return words;
}

/**
 * Start and end offsets of the first `limit` words of `text`, written to
 * `out` as pairs; returns how many there are. splitWords without building
 * a word object and string for each.
 */
export function wordBounds(text: string, limit: number, out: Int32Array): number {
  const length = text.length;
  let count = 0;
  let i = 0;
  while (count < limit) {
    while (i < length && isBlank(text.charCodeAt(i))) i++;
    if (i === length) break;
    out[2 * count] = i;
    while (i < length && !isBlank(text.charCodeAt(i))) i++;
    out[2 * count + 1] = i;
    count++;
  }
  return count;
}

const SPACE = 32;
const TAB = 9;

export function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
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

/**
 * A copy of `text` that does not point into the string it was sliced from.
 * V8 slices long strings by reference, so a line kept from a file keeps the
 * whole file alive; concatenating and slicing again flattens the characters
 * into a new string of the line's own size.
 */
export function detach(text: string): string {
  return (' ' + text).slice(1);
}
