import { UsageError } from './errors.js';

/** ISO 8601 date, optionally with a time and an offset: what `--from`, `--until` and `--tick` take. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An instant given on the command line, as Unix ms. Date.parse alone takes
 * "tomorrow"-like text in some forms and turns typos into other dates, so
 * the form is checked first. Without an offset, the time is this host's
 * local time.
 */
export function parseInstant(flag: string, text: string): number {
  const ms = ISO_INSTANT.test(text.trim()) ? Date.parse(text.trim()) : Number.NaN;
  if (Number.isNaN(ms)) throw new UsageError(`${flag} must be an ISO 8601 instant such as 2026-03-29T01:00:00Z, got '${text}'`);
  return ms;
}
