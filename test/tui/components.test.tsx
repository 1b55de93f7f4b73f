import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { Banner } from '../../src/tui/components/Banner.js';
import { Footer } from '../../src/tui/components/Footer.js';
import { HistoryList } from '../../src/tui/components/HistoryList.js';
import { JobList } from '../../src/tui/components/JobList.js';
import { LiveRunList } from '../../src/tui/components/LiveRunList.js';
import { LogView } from '../../src/tui/components/LogView.js';
import { NodeList } from '../../src/tui/components/NodeList.js';
import { initialNav, keysFor } from '../../src/tui/navigate.js';
import { NOW, job, node, run } from './fixtures.js';

const lines = (frame: string | undefined) => (frame ?? '').split('\n');

test('the job list renders only the rows that fit, even with 10,000 jobs', () => {
  const jobs = Array.from({ length: 10_000 }, (_, i) => job(`job-${String(i).padStart(5, '0')}`));
  const { lastFrame, rerender } = render(<JobList jobs={jobs} cursor={0} height={20} width={80} nowMs={NOW} filter="" />);
  const frame = lastFrame()!;
  assert.equal(lines(frame).length, 20);
  assert.match(frame, /Jobs {2}1\/10000/);
  assert.match(frame, /› job-00000/);
  assert.match(frame, /job-00017/);
  assert.doesNotMatch(frame, /job-00018/, 'rows below the window are not rendered');

  rerender(<JobList jobs={jobs} cursor={5000} height={20} width={80} nowMs={NOW} filter="" />);
  const moved = lastFrame()!;
  assert.match(moved, /› job-05000/);
  assert.doesNotMatch(moved, /job-00000/);
  assert.equal(lines(moved).filter((l) => /job-\d{5}/.test(l)).length, 18);
});

test('a job row shows schedule in words, a countdown, the last result and where it runs', () => {
  const jobs = [job('backup', { lastRun: run('01A', 'backup', { status: 'failed', endedMs: NOW - 60_000 }), running: [{ runId: 'r1', host: 'web-2' }] })];
  const { lastFrame } = render(<JobList jobs={jobs} cursor={0} height={5} width={80} nowMs={NOW} filter="" />);
  const row = lines(lastFrame()).find((l) => l.includes('backup'))!;
  assert.match(row, /every 5 minutes/);
  assert.match(row, /in 1m 30s/);
  assert.match(row, /failed 1m ago/);
  assert.match(row, /web-2/);
});

test('table rows never wrap: long cells are cut with … and narrow terminals drop optional columns', () => {
  const jobs = [job('a-very-long-job-name-that-goes-on-and-on-and-on-for-a-while', { description: 'at minute 0 past every hour from 9 through 17 on Monday through Friday' })];
  const { lastFrame } = render(<JobList jobs={jobs} cursor={0} height={4} width={80} nowMs={NOW} filter="" />);
  const frame = lines(lastFrame());
  assert.ok(frame.every((l) => l.length <= 80));
  assert.match(frame[2], /a-very-long-job-… at minute 0.*… in 1m 30s/);
  assert.equal(frame[3].trim(), '', 'the row did not wrap onto the next line');

  const narrow = render(<JobList jobs={jobs} cursor={0} height={4} width={40} nowMs={NOW} filter="" />);
  assert.doesNotMatch(narrow.lastFrame()!, /RUNNING ON|LAST/);
  assert.match(narrow.lastFrame()!, /NEXT/);
});

test('history shows status, duration and exit; scoped to one job it says so', () => {
  const runs = [run('01B', 'backup', { status: 'ok', endedMs: NOW - 2000, exitCode: 0 }), run('01C', 'backup', { status: 'killed', endedMs: NOW - 1000, signal: 'SIGTERM' })];
  const { lastFrame } = render(<HistoryList runs={runs} cursor={0} height={6} width={100} nowMs={NOW} job="backup" />);
  const frame = lastFrame()!;
  assert.match(frame, /Runs of backup \(esc: all jobs\)/);
  assert.match(frame, /ok +\S+ \S+ +3\.0s +0/);
  assert.match(frame, /killed .*SIGTERM/);
});

test('a dependent job shows the jobs it follows and no countdown; a sharded one its shard count', () => {
  const jobs = [
    job('reindex', { shards: 4 }),
    job('report', { scheduleText: '@after', description: 'after backup, reindex', after: ['backup', 'reindex'], nextTickMs: null }),
  ];
  const frame = lines(render(<JobList jobs={jobs} cursor={0} height={6} width={100} nowMs={NOW} filter="" />).lastFrame());
  assert.match(frame.find((l) => l.includes('reindex') && !l.includes('report'))!, /every 5 minutes ×4 shards +in 1m 30s/);
  const report = frame.find((l) => l.includes('report'))!;
  // Not "never" in NEXT: a dependent job does run, after its parents.
  assert.match(report, /after backup, reindex +- +never ran/);
});

test('shard runs are named job[shard/shards] in history and live runs', () => {
  const shardRun = run('01D', 'reindex', { shard: 2, shards: 4, host: 'web-3' });
  const live = lines(render(<LiveRunList runs={[shardRun]} cursor={0} height={4} width={80} nowMs={NOW} />).lastFrame());
  assert.match(live.find((l) => l.includes('reindex'))!, /reindex\[2\/4\] +web-3/);
  const history = render(<HistoryList runs={[{ ...shardRun, status: 'ok', endedMs: NOW, exitCode: 0 }, run('01E', 'backup', { status: 'ok', endedMs: NOW })]} cursor={0} height={6} width={100} nowMs={NOW} job={null} />).lastFrame()!;
  assert.match(history, /reindex\[2\/4\] 01D/);
  assert.match(history, /backup 01E/, 'an unsharded run keeps its plain name');
});

test('nodes show lease health, skew and running count', () => {
  const { lastFrame } = render(<NodeList nodes={[node('web-1', { self: true, running: 2 }), node('web-2', { healthy: false, skewMs: 1200 })]} cursor={0} height={5} width={80} />);
  const frame = lastFrame()!;
  assert.match(frame, /web-1 \(this\) +lease ok +3ms +2/);
  assert.match(frame, /web-2 +lease unproven +1200ms !/);
});

test('the unreachable banner gives the reason and the retry countdown', () => {
  const { lastFrame, rerender } = render(<Banner connected={false} error="connection refused" retryAtMs={NOW + 2500} nowMs={NOW} />);
  assert.match(lastFrame()!, /daemon unreachable · retrying in 3s/);
  assert.match(lastFrame()!, /connection refused/);
  rerender(<Banner connected error={null} retryAtMs={null} nowMs={NOW} />);
  assert.equal(lastFrame(), '');
});

test('the footer lists the keys of each view, and prompts take over its status line', () => {
  const jobsKeys = render(<Footer keys={keysFor(initialNav())} confirm={null} typing={null} message={null} />).lastFrame()!;
  for (const k of ['↑↓ move', 'enter runs', 'r run now', 'k kill', '/ filter', 'tab view', '? help', 'q quit']) assert.ok(jobsKeys.includes(k), `${k} in ${jobsKeys}`);
  const log = render(<Footer keys={keysFor({ ...initialNav(), log: { runId: 'x', job: 'j', top: null } })} confirm="Kill run 01 of backup?" typing={null} message={null} />).lastFrame()!;
  assert.match(log, /Kill run 01 of backup\? y\/n/);
  assert.match(log, /end follow/);
  assert.match(render(<Footer keys={[]} confirm={null} typing="bac" message={null} />).lastFrame()!, /filter jobs: \/bac/);
});

test('the log view follows the end, or holds a scrolled-back window', () => {
  const out = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`);
  const r = run('01D', 'talker');
  const { lastFrame, rerender } = render(<LogView runId={r.id} job="talker" run={r} lines={out} first={0} top={null} height={10} nowMs={NOW} error={null} />);
  assert.match(lastFrame()!, /line 100\nfollowing/);
  assert.doesNotMatch(lastFrame()!, /line 92\n/);
  rerender(<LogView runId={r.id} job="talker" run={r} lines={out} first={0} top={10} height={10} nowMs={NOW} error={null} />);
  assert.match(lastFrame()!, /^line 11$/m);
  assert.match(lastFrame()!, /lines 11-18 of 100, end to follow/);
});
