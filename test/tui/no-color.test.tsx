import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { colorWanted } from '../../src/tui/format.js';
import { FakeActions, FakeFeed, connected, job, run } from './fixtures.js';

// Colour support is decided when chalk loads, and a test's stdout is a pipe (no colour at all).
// Force it on before Ink loads, so the NO_COLOR check below would see escapes if any leaked.
process.env.FORCE_COLOR = '1';
const { render, cleanup } = await import('ink-testing-library');
const { App } = await import('../../src/tui/app.js');

after(() => cleanup());

const ESC = '\u001B';
const colourful = () =>
  new FakeFeed(
    connected({
      connected: false,
      error: 'connection refused',
      retryAtMs: Date.now() + 1000,
      jobs: [job('backup', { lastRun: run('01F', 'backup', { status: 'failed', endedMs: Date.now() }), running: [{ runId: 'x', host: 'web-1' }] })],
    }),
  );

test('NO_COLOR is read from the environment: set and non-empty means no colour', () => {
  assert.equal(colorWanted({ NO_COLOR: '1' }), false);
  assert.equal(colorWanted({}), true);
  assert.equal(colorWanted({ NO_COLOR: '' }), true);
});

test('with colour the screen has escapes (so the next test can see them)', () => {
  const { lastFrame } = render(<App feed={colourful()} actions={new FakeActions()} socketPath="/nonexistent" color />);
  assert.ok(lastFrame()!.includes(ESC));
});

test('without colour not one escape sequence is written, and the cursor and banner still show', () => {
  const { lastFrame } = render(<App feed={colourful()} actions={new FakeActions()} socketPath="/nonexistent" color={false} />);
  const frame = lastFrame()!;
  assert.ok(!frame.includes(ESC), JSON.stringify(frame));
  assert.match(frame, /daemon unreachable/);
  assert.match(frame, /› backup .*failed/);
  assert.match(frame, /\[Jobs\]/);
});
