/** Byte sizes as written in `max-output=`: `1MiB`, `512KiB`, `10MB`, or a plain byte count. */

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
};

const SIZE = /^(\d+)\s*([a-z]*)$/i;

/** Bytes, or null when `text` is not a size. */
export function parseSize(text: string): number | null {
  const match = SIZE.exec(text);
  if (match === null) return null;
  const unit = match[2] === '' ? 1 : UNIT_BYTES[match[2].toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : null;
}
