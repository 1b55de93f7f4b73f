/**
 * A crontab's text as lines: LF or CRLF; a leading BOM and a missing final
 * newline are both fine.
 */

export interface Lines {
  texts: string[];
  /** Offset in the text of each line's first character. */
  starts: number[];
}

export function splitLines(text: string): string[] {
  return splitLinesBetween(text, 0, text.length).texts;
}

/** The lines of `text` from `from` (a line start) up to `to` (a line start, or the text's end). */
export function splitLinesBetween(text: string, from: number, to: number): Lines {
  const texts: string[] = [];
  const starts: number[] = [];
  let start = from === 0 && text.charCodeAt(0) === 0xfeff ? 1 : from;
  // A final newline ends the last line rather than starting an empty one.
  while (start < to) {
    let end = text.indexOf('\n', start);
    if (end < 0 || end > to) end = to;
    texts.push(text.slice(start, end > start && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end));
    starts.push(start);
    start = end + 1;
  }
  return { texts, starts };
}
