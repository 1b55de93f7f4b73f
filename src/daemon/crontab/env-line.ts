/**
 * Environment lines, read the way Vixie cron's load_env does: `NAME = value`,
 * blanks around `=` and at the ends dropped, one pair of matching quotes
 * removed from the name and from the value (so it can keep spaces), and
 * nothing expanded.
 */

export interface EnvAssignment {
  name: string;
  value: string;
  /** Offset of the value as written (quotes included), for diagnostics. */
  valueIndex: number;
  /** The value as written, quotes included. */
  valueText: string;
}

/**
 * A cron field or nickname never contains `=`, so a first word made of
 * anything but blanks and `=`, followed by `=`, can only be an environment line.
 */
const ENV_LINE = /^[ \t]*([^ \t=]+)[ \t]*=[ \t]*(.*?)[ \t]*$/d;

/** The assignment on `line`, or null when the line is not an environment line. */
export function parseEnvLine(line: string): EnvAssignment | null {
  const match = ENV_LINE.exec(line);
  if (match === null || match.indices === undefined) return null;
  const valueText = match[2];
  return { name: unquote(match[1]), value: unquote(valueText), valueIndex: match.indices[2][0], valueText };
}

function unquote(text: string): string {
  const quote = text[0];
  const quoted = text.length >= 2 && (quote === '"' || quote === "'") && text.endsWith(quote);
  return quoted ? text.slice(1, -1) : text;
}
