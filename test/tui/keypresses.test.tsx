import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Text, useInput, type Key } from 'ink';
import { cleanup, render } from 'ink-testing-library';
import { readKeypress } from '../../src/tui/keypress.js';
import { useKeypresses } from '../../src/tui/hooks/useKeypresses.js';
import { waitFor } from '../helpers/wait.js';

afterEach(() => cleanup());

type Seen = Array<[string, Key]>;

function Recorder({ seen, split }: { seen: Seen; split: boolean }) {
  const record = (input: string, key: Key) => void seen.push([input, key]);
  // Hooks may not be called conditionally; each instance uses one of the two for its whole life.
  (split ? useKeypresses : useInput)(record);
  return <Text>ready</Text>;
}

function recorder(split: boolean) {
  const seen: Seen = [];
  const app = render(<Recorder seen={seen} split={split} />);
  /** Writes `chunk` in one read and resolves with what the handler was called with. */
  const write = async (chunk: string, calls: number) => {
    seen.length = 0;
    app.stdin.write(chunk);
    await waitFor(`${calls} handler calls for ${JSON.stringify(chunk)}`, () => seen.length >= calls, 3000, 5);
    return [...seen];
  };
  return { app, write };
}

// What Ink reports for each key typed alone; splitting must not change the reading of any of them.
const LONE_KEYS = ['a', 'B', '7', ' ', 'é', '\r', '\t', '\u007F', '\b', '\u0001', '\u001B', '\u001B[A', '\u001B[B', '\u001B[C', '\u001B[D', '\u001BOA', '\u001B[H', '\u001B[F', '\u001B[Z', '\u001B[3~', '\u001B[5~', '\u001B[6~', '\u001B[1;5A', '\u001Bx'];

test('readKeypress reads every key the way Ink reads it typed alone', async () => {
  const { write } = recorder(false);
  await waitFor('the first frame', () => true);
  for (const raw of LONE_KEYS) {
    const [[input, key]] = await write(raw, 1);
    const read = readKeypress(raw);
    assert.deepEqual({ input: read.input, key: { ...read.key, eventType: key.eventType } }, { input, key }, JSON.stringify(raw));
  }
});

test('useKeypresses calls the handler once per key of a chunk, with the key Ink would report for each', async () => {
  const { write } = recorder(true);
  const seen = await write('beta\r', 5);
  assert.deepEqual(seen.map(([input]) => input), ['b', 'e', 't', 'a', '\r']);
  assert.equal(seen[4][1].return, true);
  assert.ok(seen.slice(0, 4).every(([, key]) => !key.return), 'only the last is Enter');
});

test('useKeypresses leaves a lone key, even a Ctrl one, as Ink reported it', async () => {
  const { write } = recorder(true);
  const [[input, key]] = await write('\u0001', 1);
  assert.equal(input, 'a');
  assert.equal(key.ctrl, true);
});
