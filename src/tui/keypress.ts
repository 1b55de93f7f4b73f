import type { Key } from 'ink';

/**
 * Ink hands useInput one string per read from the terminal, and only a lone
 * "\r" counts as Enter: "beta\r" from a paste, a fast typist over ssh or
 * `tmux send-keys beta Enter` arrives as one input with no key set, and the
 * carriage return would be typed into whatever is listening. These turn such
 * a chunk back into the keypresses it holds.
 */

export interface Keypress {
  input: string;
  key: Key;
}

const ESC = '\u001B';

/** The keypresses in `chunk`, in order: escape sequences stay whole, "\r\n" is one Enter. */
export function splitKeypresses(chunk: string): string[] {
  const keys: string[] = [];
  let i = 0;
  while (i < chunk.length) {
    const end = chunk[i] === ESC ? escapeEnd(chunk, i) : chunk.startsWith('\r\n', i) ? i + 2 : i + codePointLength(chunk, i);
    keys.push(chunk.slice(i, end));
    i = end;
  }
  return keys;
}

// Code points, not UTF-16 units, so an emoji stays one key.
const codePointLength = (s: string, i: number): number => (s.codePointAt(i)! > 0xffff ? 2 : 1);

/** Where the escape sequence starting at `start` ends (exclusive). */
function escapeEnd(s: string, start: number): number {
  let i = start + 1;
  // Alt+arrow is sent by some terminals as ESC before the arrow's own sequence.
  if (s[i] === ESC && (s[i + 1] === '[' || s[i + 1] === 'O')) i++;
  if (s[i] === 'O') return Math.min(s.length, i + 2);
  if (s[i] !== '[') return i >= s.length || s[i] === ESC ? i : i + codePointLength(s, i);
  i++;
  // Linux console function keys: ESC [ [ A.
  if (s[i] === '[') i++;
  while (i < s.length && isCsiParameterOrIntermediate(s.charCodeAt(i))) i++;
  return isCsiFinal(s.charCodeAt(i)) ? i + 1 : i;
}

const isCsiParameterOrIntermediate = (c: number): boolean => c >= 0x20 && c <= 0x3f;
const isCsiFinal = (c: number): boolean => c >= 0x40 && c <= 0x7e;

/**
 * The keypresses in one useInput call. A single keypress keeps Ink's reading
 * of it (Ink knows sequences we do not, and hands arrows and Tab over with an
 * empty input); several are read one by one here.
 * Ink reads a line feed as text, but pasted lines end in "\n" or "\r\n": both
 * are Enter here, alone or not.
 */
export function keypressesOf(input: string, key: Key): Keypress[] {
  const keys = splitKeypresses(input);
  if (keys.length <= 1 && !input.includes('\n')) return [{ input, key }];
  return keys.map(readKeypress);
}

const noKey: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

const pressed = (input: string, set: Partial<Key> = {}): Keypress => ({ input, key: { ...noKey, ...set } });

/** One keypress as Ink's useInput would report it had it arrived alone (bar line feeds: Enter). */
export function readKeypress(k: string): Keypress {
  switch (k) {
    case '\r':
    case '\n':
    case '\r\n':
      return pressed('\r', { return: true });
    case '\t':
      return pressed('', { tab: true });
    case '\b':
      return pressed('', { backspace: true });
    // Ink reports the backspace key's DEL as delete.
    case '\u007F':
      return pressed('', { delete: true });
    case ESC:
      return pressed('', { escape: true, meta: true });
  }
  if (k.startsWith(ESC)) return readEscape(k);
  const code = k.charCodeAt(0);
  // Ctrl+letter: \x03 is Ctrl-C, reported as "c" with ctrl, as Ink does.
  if (k.length === 1 && code <= 0x1a) return pressed(String.fromCharCode(code + 0x60), { ctrl: true });
  return pressed(k, { shift: /^[A-Z]$/.test(k) });
}

const CSI_FINAL_KEYS: Record<string, Partial<Key>> = {
  A: { upArrow: true },
  B: { downArrow: true },
  C: { rightArrow: true },
  D: { leftArrow: true },
  H: { home: true },
  F: { end: true },
  Z: { tab: true, shift: true },
};

const CSI_TILDE_KEYS: Record<string, Partial<Key>> = {
  '1': { home: true },
  '7': { home: true },
  '4': { end: true },
  '8': { end: true },
  '3': { delete: true },
  '5': { pageUp: true },
  '6': { pageDown: true },
};

/** Arrows, paging and editing keys; any other sequence is a key the TUI has no use for, never text. */
function readEscape(k: string): Keypress {
  const alt = k.startsWith(ESC + ESC);
  const sequence = /^\u001B{1,2}(?:\[\[?|O)([\d;]*)([\x40-\x7e])$/.exec(k);
  if (!sequence) {
    const char = k.slice(1);
    return char === '' || char.startsWith(ESC) ? pressed('') : pressed(char, { meta: true, shift: /^[A-Z]$/.test(char) });
  }
  const [params, final] = [sequence[1].split(';'), sequence[2]];
  const named = final === '~' ? CSI_TILDE_KEYS[params[0]] : CSI_FINAL_KEYS[final];
  if (!named) return pressed('');
  // xterm's modifier parameter is 1 + a bit set: 1 shift, 2 alt, 4 ctrl.
  const mods = Math.max(0, Number(params[1] ?? 1) - 1);
  return pressed('', { shift: (mods & 1) !== 0, meta: alt || (mods & 2) !== 0, ctrl: (mods & 4) !== 0, ...named });
}
