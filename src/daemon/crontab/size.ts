/** Byte sizes as written in `max-output=`: `1MiB`, `512KiB`, `10MB`, or a plain byte count; and in `requires=`. */

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

/**
 * Units of a host figure's size (`requires=mem>=1.5G`): those of parseSize,
 * terabytes, and the bare letters `df -h` and `free -h` print, which are
 * binary there (`16G` is 16 GiB), so a figure can be copied from them.
 */
const FIGURE_UNIT_BYTES: Record<string, number> = {
  ...UNIT_BYTES,
  tb: 1_000_000_000_000,
  tib: 1_099_511_627_776,
  k: 1_024,
  m: 1_048_576,
  g: 1_073_741_824,
  t: 1_099_511_627_776,
};

const FIGURE_SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** Bytes (rounded to a whole byte), or null when `text` is not a size: `2GiB`, `1.5G`, `512MiB`, `10GB`, a byte count. */
export function parseFigureSize(text: string): number | null {
  const match = FIGURE_SIZE.exec(text);
  if (match === null) return null;
  const unit = match[2] === '' ? 1 : FIGURE_UNIT_BYTES[match[2].toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Largest first; binary before decimal, so a size written either way is written back the same. */
const WRITTEN_UNITS: ReadonlyArray<[string, number]> = [
  ['TiB', FIGURE_UNIT_BYTES.tib],
  ['TB', FIGURE_UNIT_BYTES.tb],
  ['GiB', FIGURE_UNIT_BYTES.gib],
  ['GB', FIGURE_UNIT_BYTES.gb],
  ['MiB', FIGURE_UNIT_BYTES.mib],
  ['MB', FIGURE_UNIT_BYTES.mb],
  ['KiB', FIGURE_UNIT_BYTES.kib],
  ['KB', FIGURE_UNIT_BYTES.kb],
];

/**
 * Text parseFigureSize reads back as exactly `bytes`, as short as it comes:
 * `2GiB`, `1.5GiB`, `10GB`, else the byte count.
 */
export function writeFigureSize(bytes: number): string {
  for (const [name, unit] of WRITTEN_UNITS) {
    if (bytes < unit) continue;
    for (let decimals = 0; decimals <= 3; decimals++) {
      const text = `${Number((bytes / unit).toFixed(decimals))}${name}`;
      if (parseFigureSize(text) === bytes) return text;
    }
  }
  return String(bytes);
}

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** `1048576` -> `1 MiB`, `1536` -> `1.5 KiB`, `100` -> `100 bytes`: a size for people, to one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number(value.toFixed(1))} ${BINARY_UNITS[unit]}`;
}
