import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DCRON_BIN, DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

// A tmux server of our own, so the test neither sees nor disturbs the user's sessions.
const TMUX = ['-L', `dcron-tui-${process.pid}`, '-f', '/dev/null'];
const tmux = (...args: string[]) => execFileSync('tmux', [...TMUX, ...args], { encoding: 'utf8' });

const ws = new Workspace();
let daemon: DaemonProcess | undefined;
after(async () => {
  try {
    tmux('kill-server');
  } catch {
    // never started
  }
  await daemon?.stop();
  ws.cleanup();
});

/** A TUI in a tmux session of its own, 80x24, and what a person would do with it. */
function openTui(session: string) {
  tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', `${process.execPath} ${DCRON_BIN} tui --data-dir ${ws.dataDir}`);
  const screen = () => tmux('capture-pane', '-p', '-t', session);
  const screenOrNothing = () => {
    try {
      return screen();
    } catch {
      return '';
    }
  };
  const see = (what: RegExp, timeoutMs = 10_000) => waitFor(`the TUI to show ${what}\n(last screen:\n${screenOrNothing()})`, () => what.test(screen()), timeoutMs);
  /** One `tmux send-keys` call: the keys reach the TUI in one write. */
  const keys = (...k: string[]) => tmux('send-keys', '-t', session, ...k);
  const quit = async () => {
    keys('q');
    await waitFor('the TUI to quit', () => {
      try {
        tmux('has-session', '-t', session);
        return !/\[Jobs\]|\[Runs\]/.test(screen());
      } catch {
        return true;
      }
    });
  };
  return { screen, see, keys, quit };
}

before(async () => {
  ws.writeCrontab(['#dcron name=nightly', '0 3 * * * echo nightly', '#dcron name=talker', '0 0 1 1 * i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.1; done', ''].join('\n'));
  daemon = await DaemonProcess.start(ws);
});

test('a person can see jobs, start one with r, watch it live, and kill it with k y', async () => {
  const { screen, see, keys, quit } = openTui('watch');

  await see(/› nightly +at 03:00/);
  assert.match(screen(), /talker/);
  assert.match(screen(), /\[Jobs\]/);
  assert.match(screen(), /r run now +k kill/, 'the footer names the keys');

  keys('j');
  await see(/› talker/);
  keys('r');
  await see(/started run [0-9A-Z]{10} of talker/);

  keys('Tab');
  await see(/\[Runs\][\s\S]*› talker +test-node/);
  await see(/output of talker[\s\S]*tick \d+/);

  keys('Enter');
  await see(/Log of talker run [0-9A-Z]{10} on test-node · running/);
  const before = Number(/tick (\d+)\s*\n\s*following/.exec(await waitFor('a tick line', () => /tick \d+\s*\n\s*following/.test(screen()) && screen()))![1]);
  await see(new RegExp(`tick ${before + 3}\\b`), 10_000);

  keys('k');
  await see(/Kill run [0-9A-Z]{10} of talker\? y\/n/);
  keys('y');
  await see(/killed [0-9A-Z]{10} of talker/);
  await see(/Log of talker run \S+ on test-node · killed/);

  const history = await cli(['history', 'talker'], { dataDir: ws.dataDir });
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /talker .* manual +killed/);

  await quit();
});

test('a filter and Enter sent in one tmux send-keys call filter the list and close the prompt', async () => {
  const { screen, see, keys, quit } = openTui('filter');
  await see(/› nightly +at 03:00/);
  keys('/');
  await see(/filter jobs: \/█/);
  keys('talk', 'Enter');
  await see(/\/ filter: talk/);
  const shown = screen();
  assert.match(shown, /Jobs matching "talk" +1\/1/, 'the title row is whole: a carriage return typed into the filter splits it');
  assert.match(shown, /› talker/);
  assert.doesNotMatch(shown, /nightly/, 'the filter hides the other job');
  assert.doesNotMatch(shown, /filter jobs:/, 'Enter closed the prompt instead of being typed into it');
  const rows = shown.split('\n');
  assert.match(rows[0], /\[Jobs\]/, 'the header is still the first row');
  assert.equal(rows.filter((r) => /\[Jobs\]/.test(r)).length, 1, 'no row was drawn twice');
  await quit();
});
