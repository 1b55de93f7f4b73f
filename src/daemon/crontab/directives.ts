/**
 * The syntax of directive comments: `#dcron key=value key="value with spaces"`.
 * What each key means is directive-keys.ts's business.
 *
 * Only `#dcron` with no space is a directive. `# dcron ...` stays a plain
 * comment, because prose such as `# dcron jobs below` must never turn into an
 * error; the reader warns when such a comment looks like a directive.
 */
import { isProblem, type Problem } from './text.js';

export interface DirectivePair {
  key: string;
  value: string;
  keyIndex: number;
  /** Offset of the value as written (opening quote included). */
  valueIndex: number;
  /** The value as written, quotes and escapes included. */
  valueText: string;
}

export interface DirectiveLine {
  /** Offset of `#dcron`. */
  index: number;
  pairs: DirectivePair[];
  problems: Problem[];
}

const DIRECTIVE = /^[ \t]*#dcron(?=[ \t]|$)/;
const DIRECTIVE_LOOKALIKE = /^[ \t]*#[ \t]+dcron[ \t]+[A-Za-z-]+=/;

/**
 * Items read from one directive line. With 16 keys, each allowed once per
 * job, more is always an error; unbounded, a line of 50,000 `k=v` made as
 * many diagnostics, each locating itself in that long line: quadratic, and
 * the daemon stalled on the reload.
 */
export const MAX_DIRECTIVE_ITEMS = 32;

/** The parsed directive on `line`, or null when the line is not a directive comment. */
export function parseDirectiveLine(line: string): DirectiveLine | null {
  const match = DIRECTIVE.exec(line);
  if (match === null) return null;
  const cursor = new Cursor(line, match[0].length);
  const pairs: DirectivePair[] = [];
  const problems: Problem[] = [];
  for (cursor.skipBlanks(); !cursor.atEnd(); cursor.skipBlanks()) {
    if (pairs.length + problems.length === MAX_DIRECTIVE_ITEMS) {
      const index = cursor.index;
      problems.push({ index, message: `too many items on one directive line (at most ${MAX_DIRECTIVE_ITEMS}); the rest is ignored`, text: cursor.readUntilBlank() });
      break;
    }
    const pair = readPair(cursor);
    if (isProblem(pair)) problems.push(pair);
    else pairs.push(pair);
  }
  return { index: match[0].indexOf('#'), pairs, problems };
}

/** A comment such as `# dcron name=x`, which a user most likely meant as a directive. */
export function looksLikeDirective(line: string): boolean {
  return DIRECTIVE_LOOKALIKE.test(line);
}

class Cursor {
  constructor(
    readonly line: string,
    public index: number,
  ) {}

  atEnd(): boolean {
    return this.index >= this.line.length;
  }

  atBlank(): boolean {
    return this.line[this.index] === ' ' || this.line[this.index] === '\t';
  }

  peek(): string | undefined {
    return this.line[this.index];
  }

  skipBlanks(): void {
    while (!this.atEnd() && this.atBlank()) this.index++;
  }

  /** Up to the next blank or `stop`, whichever is first. */
  readUntilBlank(stop?: string): string {
    const start = this.index;
    while (!this.atEnd() && !this.atBlank() && this.peek() !== stop) this.index++;
    return this.line.slice(start, this.index);
  }
}

function readPair(cursor: Cursor): DirectivePair | Problem {
  const keyIndex = cursor.index;
  const key = cursor.readUntilBlank('=');
  if (cursor.peek() !== '=') {
    return { index: keyIndex, message: `expected key=value, got '${key}'`, text: key };
  }
  if (key === '') {
    const word = cursor.readUntilBlank();
    return { index: keyIndex, message: `missing key before '='`, text: word };
  }
  cursor.index++;
  const valueIndex = cursor.index;
  const value = cursor.peek() === '"' ? readQuoted(cursor) : cursor.readUntilBlank();
  if (typeof value !== 'string') return value;
  return { key, value, keyIndex, valueIndex, valueText: cursor.line.slice(valueIndex, cursor.index) };
}

/** A double-quoted value, where `\"` and `\\` stand for `"` and `\`. */
function readQuoted(cursor: Cursor): string | Problem {
  const openIndex = cursor.index;
  let value = '';
  for (cursor.index++; !cursor.atEnd(); cursor.index++) {
    const char = cursor.peek();
    const next = cursor.line[cursor.index + 1];
    if (char === '\\' && (next === '"' || next === '\\')) {
      value += next;
      cursor.index++;
    } else if (char === '"') {
      cursor.index++;
      return afterClosingQuote(cursor, value);
    } else {
      value += char;
    }
  }
  return { index: openIndex, message: 'unterminated quoted value', text: cursor.line.slice(openIndex) };
}

function afterClosingQuote(cursor: Cursor, value: string): string | Problem {
  if (cursor.atEnd() || cursor.atBlank()) return value;
  const index = cursor.index;
  const text = cursor.readUntilBlank();
  return { index, message: `expected a blank after the closing quote, got '${text}'`, text };
}
