import { randomBytes } from 'node:crypto';

/**
 * Run ids are ULIDs: 48 bits of milliseconds then 80 random bits, in
 * Crockford base32 (no I, L, O, U). 26 characters, safe in URLs and shells,
 * and they sort by creation time as plain strings, so a few leading
 * characters plus a few random ones make a prefix users can type.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_BYTES = 10;
const MAX_TIME_MS = 2 ** 48 - 1;

export function newRunId(nowMs: number): string {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0 || nowMs > MAX_TIME_MS) {
    throw new RangeError(`run id time must be an integer between 0 and ${MAX_TIME_MS} ms, got ${nowMs}`);
  }
  return encodeTime(nowMs) + encodeBytes(randomBytes(RANDOM_BYTES));
}

function encodeTime(ms: number): string {
  let out = '';
  // Division rather than bit shifts: 48-bit values overflow JS's 32-bit bitwise operators.
  for (let i = 0, rest = ms; i < TIME_CHARS; i++, rest = Math.floor(rest / 32)) {
    out = ALPHABET[rest % 32] + out;
  }
  return out;
}

/** Big-endian base32 of `bytes`, 5 bits per character; 10 bytes make exactly 16 characters. */
function encodeBytes(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return out;
}
