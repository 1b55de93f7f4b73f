import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Key } from 'ink';
import { keypressesOf, readKeypress, splitKeypresses } from '../../src/tui/keypress.js';

const on = (key: Key) => Object.entries(key).filter(([, v]) => v === true).map(([k]) => k).sort();

test('text and Enter in one chunk split into one keypress each', () => {
  assert.deepEqual(splitKeypresses('beta\r'), ['b', 'e', 't', 'a', '\r']);
});

test('escape sequences stay whole, wherever they sit in the chunk', () => {
  assert.deepEqual(splitKeypresses('\u001B[A'), ['\u001B[A']);
  assert.deepEqual(splitKeypresses('a\u001B[Bb\u001BOA\u001B[5~\u001B[1;5C\u001B[Z'), ['a', '\u001B[B', 'b', '\u001BOA', '\u001B[5~', '\u001B[1;5C', '\u001B[Z']);
  assert.deepEqual(splitKeypresses('\u001B\u001B[A'), ['\u001B\u001B[A'], 'alt+up');
  assert.deepEqual(splitKeypresses('\u001B[[A'), ['\u001B[[A'], 'linux console F1');
  assert.deepEqual(splitKeypresses('\u001Bx'), ['\u001Bx'], 'alt+x');
});

test('lone and doubled escapes are one escape each; an unfinished sequence is not scattered into text', () => {
  assert.deepEqual(splitKeypresses('\u001B'), ['\u001B']);
  assert.deepEqual(splitKeypresses('\u001B\u001B'), ['\u001B', '\u001B']);
  assert.deepEqual(splitKeypresses('ab\u001B'), ['a', 'b', '\u001B']);
  assert.deepEqual(splitKeypresses('\u001B[1;'), ['\u001B[1;']);
});

test('\\r\\n is one Enter; tabs, backspace, DEL and Ctrl-C are keys of their own', () => {
  assert.deepEqual(splitKeypresses('a\r\nb\n'), ['a', '\r\n', 'b', '\n']);
  assert.deepEqual(splitKeypresses('a\tb\u007Fc\bd\u0003'), ['a', '\t', 'b', '\u007F', 'c', '\b', 'd', '\u0003']);
});

test('characters outside the BMP are one key, not two halves', () => {
  assert.deepEqual(splitKeypresses('é😀x'), ['é', '😀', 'x']);
});

test('the empty chunk holds no keys', () => {
  assert.deepEqual(splitKeypresses(''), []);
});

test('each keypress reads as Ink reads it alone; line feeds read as Enter', () => {
  const cases: Array<[string, string, string[]]> = [
    ['a', 'a', []],
    ['B', 'B', ['shift']],
    ['\r', '\r', ['return']],
    ['\n', '\r', ['return']],
    ['\r\n', '\r', ['return']],
    ['\t', '', ['tab']],
    ['\u007F', '', ['delete']],
    ['\b', '', ['backspace']],
    ['\u0003', 'c', ['ctrl']],
    ['\u001B', '', ['escape', 'meta']],
    ['\u001B[A', '', ['upArrow']],
    ['\u001BOB', '', ['downArrow']],
    ['\u001B[Z', '', ['shift', 'tab']],
    ['\u001B[3~', '', ['delete']],
    ['\u001B[6~', '', ['pageDown']],
    ['\u001B[1;5A', '', ['ctrl', 'upArrow']],
    ['\u001Bx', 'x', ['meta']],
    ['\u001B[99x', '', []],
  ];
  for (const [raw, input, keys] of cases) {
    const read = readKeypress(raw);
    assert.deepEqual([read.input, on(read.key)], [input, keys.sort()], JSON.stringify(raw));
  }
});

test("a single keypress keeps Ink's reading; several are read one by one", () => {
  const ctrlC = { ...readKeypress('x').key, ctrl: true };
  assert.deepEqual(keypressesOf('c', ctrlC), [{ input: 'c', key: ctrlC }], 'Ink turned \\x03 into c with ctrl; do not undo that');
  const up = readKeypress('\u001B[A').key;
  assert.deepEqual(keypressesOf('', up), [{ input: '', key: up }], 'Ink empties the input of an arrow; the key still counts');
  const read = keypressesOf('ab\r', readKeypress('x').key).map((k) => [k.input, on(k.key)]);
  assert.deepEqual(read, [['a', []], ['b', []], ['\r', ['return']]]);
  assert.deepEqual(on(keypressesOf('\r\n', readKeypress('x').key)[0].key), ['return'], 'Ink leaves a lone \\r\\n unread');
});
