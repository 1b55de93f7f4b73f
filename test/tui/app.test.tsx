import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import { waitFor } from '../helpers/wait.js';
import { FakeActions, FakeFeed, KEYS, connected, job, run } from './fixtures.js';

afterEach(() => cleanup());

const NO_SOCKET = '/nonexistent/dcron.sock';

function start(feed: FakeFeed, actions = new FakeActions()) {
  const app = render(<App feed={feed} actions={actions} socketPath={NO_SOCKET} color={false} />);
  const frame = () => app.lastFrame() ?? '';
  const see = (what: RegExp) => waitFor(`the screen to show ${what}`, () => what.test(frame()), 3000, 5);
  /** Writes a key and waits for the screen to show its effect. */
  const press = async (key: string, then: RegExp) => {
    app.stdin.write(key);
    await see(then);
  };
  return { app, actions, frame, see, press };
}

const manyJobs = Array.from({ length: 10_000 }, (_, i) => job(`job-${String(i).padStart(5, '0')}`));

test('10,000 jobs: only the visible window is rendered, and the cursor moves with j and the arrows', async () => {
  const { frame, see, press } = start(new FakeFeed(connected({ jobs: manyJobs })));
  await see(/› job-00000/);
  assert.ok(frame().split('\n').length <= 23, 'fits in 24 rows');
  assert.equal(frame().split('\n').filter((l) => /job-\d{5}/.test(l)).length, 18);
  await press('j', /› job-00001/);
  await press(KEYS.down, /› job-00002/);
  await press(KEYS.up, /› job-00001/);
  for (let i = 0; i < 20; i++) await press('j', new RegExp(`› job-${String(i + 2).padStart(5, '0')}`));
  assert.match(frame(), /22\/10000/);
  assert.doesNotMatch(frame(), /job-00000/, 'the window scrolled with the cursor');
  await press('G', /› job-09999/);
});

test('/ filters jobs by name as you type; esc clears it', async () => {
  const { frame, see, press } = start(new FakeFeed(connected({ jobs: manyJobs })));
  await see(/› job-00000/);
  await press('/', /filter jobs: \//);
  await press('09', /Jobs matching "09"/);
  await press('99', /Jobs matching "0999"/);
  assert.match(frame(), /1\/11/);
  assert.match(frame(), /› job-00999/);
  await press(KEYS.backspace, /Jobs matching "099"/);
  await press(KEYS.esc, /Jobs {2}1\/10000/);
  await press('/', /filter jobs: \//);
  await press('backup', /no job name contains "backup"/);
  await press(KEYS.enter, /\/ filter: backup/);
});

test('r runs the selected job now and says so', async () => {
  const { actions, press } = start(new FakeFeed(connected({ jobs: [job('alpha'), job('backup')] })));
  await press('j', /› backup/);
  await press('r', /started run 01ABCDEFGH of backup · tab to Runs to watch it/);
  assert.deepEqual(actions.calls, ['run backup']);
});

test('k asks before killing: n cancels, y kills the selected live run', async () => {
  const live = run('01LIVE', 'backup');
  const { actions, press, frame } = start(new FakeFeed(connected({ jobs: [job('backup', { running: [{ runId: live.id, host: 'web-1' }] })], running: [live] })));
  await press(KEYS.tab, /Live runs {2}1\/1/);
  assert.match(frame(), /› backup +web-1 +01LIVE0000 +manual +5\.0s|› backup +web-1/);
  await press('k', /Kill run 01LIVE0000 of backup on web-1\? y\/n/);
  await press('n', /kill cancelled/);
  assert.deepEqual(actions.calls, []);
  await press('k', /y\/n/);
  await press('y', /killed 01LIVE0000 of backup/);
  assert.deepEqual(actions.calls, [`kill backup ${live.id}`]);
});

test('p pauses the selected job, p on a paused one resumes it; the job list shows the pause', async () => {
  const feed = new FakeFeed(connected({ jobs: [job('alpha'), job('backup', { paused: { untilMs: null, atMs: 0, by: 'web-2' } })] }));
  const { actions, press, frame } = start(feed);
  await press('p', /paused alpha on every host/);
  assert.match(frame(), /backup +\S.* paused/);
  await press('j', /› backup/);
  await press('p', /resumed backup: its next tick runs/);
  assert.deepEqual(actions.calls, ['pause alpha', 'resume backup']);
  await press(KEYS.tab, /Live runs/);
  await press('p', /select a job in the Jobs view/);
  assert.deepEqual(actions.calls, ['pause alpha', 'resume backup']);
});

test('k on a job that is not running says so instead of asking', async () => {
  const { actions, press } = start(new FakeFeed(connected({ jobs: [job('idle')] })));
  await press('k', /idle is not running/);
  assert.deepEqual(actions.calls, []);
});

test('enter on a job shows its runs; enter on a run opens its log; esc goes back', async () => {
  const done = run('01DONE', 'backup', { status: 'ok', endedMs: Date.now(), exitCode: 0 });
  const other = run('01OTHER', 'alpha', { status: 'failed', endedMs: Date.now(), exitCode: 1 });
  const { press, frame } = start(new FakeFeed(connected({ jobs: [job('alpha'), job('backup')], recent: [done, other] })));
  await press('j', /› backup/);
  await press(KEYS.enter, /Runs of backup \(esc: all jobs\)/);
  assert.doesNotMatch(frame(), /alpha 01OTHER/);
  await press(KEYS.enter, /Log of backup run 01DONE0000/);
  await press(KEYS.esc, /Runs of backup/);
  await press(KEYS.esc, /History {2}1\/2/);
});

test('tab cycles the views, ? shows help and any key closes it', async () => {
  const { press } = start(new FakeFeed(connected({ jobs: [job('alpha')] })));
  await press(KEYS.tab, /\[Runs\]/);
  await press(KEYS.tab, /\[History\]/);
  await press(KEYS.tab, /\[Nodes\]/);
  await press(KEYS.tab, /\[Jobs\]/);
  await press('?', /dcron tui: keys/);
  await press('x', /› alpha/);
});

test('an unreachable daemon gets a red banner with the reason and retry; reconnecting clears it', async () => {
  const feed = new FakeFeed(connected({ jobs: [job('alpha')] }));
  const { see, frame } = start(feed);
  await see(/› alpha/);
  feed.set({ ...feed.state(), connected: false, error: 'cannot reach the dcron daemon: connection refused', retryAtMs: Date.now() + 2000 });
  await see(/daemon unreachable · retrying in [12]s/);
  assert.match(frame(), /connection refused/);
  assert.match(frame(), /› alpha/, 'the last known jobs stay on screen');
  feed.set({ ...feed.state(), connected: true, error: null, retryAtMs: null, jobs: [job('alpha'), job('beta')] });
  await see(/beta/);
  assert.doesNotMatch(frame(), /unreachable/);
});

test('the app starts the feed and stops it on exit', async () => {
  const feed = new FakeFeed(connected());
  const { app, see } = start(feed);
  await see(/Jobs/);
  assert.equal(feed.started, 1);
  app.unmount();
  assert.equal(feed.stopped, 1);
});

test('a filter and Enter in one read (a paste, ssh, tmux send-keys) filter and close the prompt; nothing raw reaches the screen', async () => {
  const { app, frame, see, press } = start(new FakeFeed(connected({ jobs: [job('alpha'), job('beta'), job('gamma-beta')] })));
  await see(/› alpha/);
  await press('/', /filter jobs: \//);
  app.stdin.write('beta\r');
  await see(/\/ filter: beta/);
  assert.match(frame(), /Jobs matching "beta"/);
  assert.match(frame(), /› beta/);
  assert.match(frame(), /gamma-beta/);
  assert.doesNotMatch(frame(), /alpha/);
  assert.doesNotMatch(frame(), /\r/, 'no carriage return was typed into the filter');
});

test('keys after the filter in the same read act on the filtered rows', async () => {
  const { app, actions, see } = start(new FakeFeed(connected({ jobs: [job('alpha'), job('beta')] })));
  await see(/› alpha/);
  app.stdin.write('/beta\r\nr');
  await see(/started run 01ABCDEFGH of beta/);
  assert.deepEqual(actions.calls, ['run beta']);
});

test('Ctrl-C among other keys still quits', async () => {
  const feed = new FakeFeed(connected({ jobs: [job('alpha')] }));
  const { app, see } = start(feed);
  await see(/› alpha/);
  app.stdin.write('j\u0003');
  await waitFor('the app to exit', () => feed.stopped === 1, 3000, 5);
});
