/** Building and printing located problems, compiler style. */
import type { Diagnostic, DiagnosticSeverity } from './types.js';
import { columnAt, type Problem } from './text.js';

/** Where in a file a problem was found. */
export interface SourceLine {
  file: string;
  /** 1-based. */
  line: number;
  text: string;
}

export function diagnosticAt(severity: DiagnosticSeverity, source: SourceLine, problem: Problem): Diagnostic {
  return {
    severity,
    file: source.file,
    line: source.line,
    column: columnAt(source.text, problem.index),
    message: problem.message,
    text: problem.text,
    lineText: source.text,
  };
}

/**
 * `file:line:col: error: message`, then the line with a caret under the
 * column and `~` under the rest of the offending text; without the line, the
 * offending text alone.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const header = `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
  if (d.lineText === undefined) return d.text === '' ? header : `${header}\n    ${d.text}`;
  return `${header}\n${d.lineText}\n${caretLine(d.lineText, d.column, d.text)}`;
}

function caretLine(lineText: string, column: number, text: string): string {
  const chars = [...lineText];
  // Tabs are kept so the caret lines up however wide the terminal draws them.
  const pad = chars.slice(0, column - 1).map((char) => (char === '\t' ? '\t' : ' ')).join('');
  const width = Math.max(1, Math.min([...text].length, chars.length - (column - 1)));
  return `${pad}^${'~'.repeat(width - 1)}`;
}
