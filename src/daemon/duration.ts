/**
 * Durations as users write them in directives and `@every`: `90s`, `5m`,
 * `1h30m`, `2d`, `500ms`; a plain number is seconds.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;

/** Largest first, each at most once, so `30m1h` and `1h1h` are rejected rather than guessed at. */
const UNIT_ORDER: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Milliseconds, or null when `text` is not a duration. */
export function parseDuration(text: string): number | null {
  if (/^\d+$/.test(text)) return safeMs(Number(text) * UNIT_MS.s);
  const match = DURATION.exec(text);
  if (text === '' || match === null) return null;
  let ms = 0;
  for (const [i, unit] of UNIT_ORDER.entries()) {
    const amount = match[i + 1];
    if (amount !== undefined) ms += Number(amount) * UNIT_MS[unit];
  }
  return safeMs(ms);
}

function safeMs(ms: number): number | null {
  return Number.isSafeInteger(ms) ? ms : null;
}

/**
 * The text parseDuration reads back as `ms`: 5400000 -> `1h30m`, 0 -> `0s`.
 * Negative values keep their sign so a late tick does not display as on time.
 */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  let text = '';
  for (const unit of UNIT_ORDER) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    if (amount > 0) text += `${amount}${unit}`;
    rest -= amount * UNIT_MS[unit];
  }
  return text === '' ? '0s' : text;
}
