import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SubscriberTooSlowError, eventsStream, executorRunFeed, recorderRunFeed, type Views } from '../../src/daemon/control/events-stream.js';
import type { ExecutorPort, RecorderPort } from '../../src/daemon/control/daemon-port.js';
import type { DaemonEvent, JobView, StatusView } from '../../src/daemon/control/api-types.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { waitFor } from '../helpers/wait.js';

/** Just what the stream touches of a single-host daemon. */
function fakeDaemon() {
  const daemon = Object.assign(new EventEmitter(), { executor: new EventEmitter(), recorder: new EventEmitter() });
  const views: Views = {
    status: () => ({ node: 'n' }) as StatusView,
    jobs: async () => [{ name: 'a' } as JobView],
    nodes: async () => [],
    recent: async () => [],
    running: async () => [],
  };
  const handler = eventsStream({ views, runFeeds: [executorRunFeed(daemon.executor as unknown as ExecutorPort), recorderRunFeed(daemon.recorder as unknown as RecorderPort)], daemon, pollNodes: false });
  return { daemon, handler };
}

function subscribe(backlog = () => 0) {
  const { daemon, handler } = fakeDaemon();
  const events: DaemonEvent[] = [];
  const closed = new AbortController();
  const done = handler({}, (e) => events.push(e), closed.signal, backlog);
  return { daemon, events, closed, done };
}

const run = (id: string, status: RunRecord['status']) => ({ id, job: 'a', status }) as RunRecord;

test('a snapshot first, then a run keeps only its latest record per flush', async () => {
  const { daemon, events, closed, done } = subscribe();
  await waitFor('the snapshot', () => events.length === 1);
  assert.equal(events[0].type, 'snapshot');
  daemon.executor.emit('run-started', run('R1', 'running'));
  await waitFor('the run', () => events.length === 2);
  daemon.executor.emit('run-started', run('R2', 'running'));
  daemon.executor.emit('run-finished', run('R2', 'ok'));
  await waitFor('the coalesced run', () => events.length === 3);
  assert.deepEqual(events[2], { type: 'run', run: run('R2', 'ok') });
  closed.abort();
  await done;
});

test('a burst of next ticks goes out as one job list, a few as one next per job', async () => {
  const { daemon, events, closed, done } = subscribe();
  await waitFor('the snapshot', () => events.length === 1);
  for (let i = 0; i < 100_000; i++) daemon.emit('next-tick', `job-${i}`, i);
  await waitFor('the job list', () => events.length === 2);
  assert.equal(events[1].type, 'jobs');
  for (const ms of [1, 2, 3]) daemon.emit('next-tick', 'a', ms);
  daemon.emit('next-tick', 'b', 9);
  await waitFor('the next events', () => events.length === 4);
  assert.deepEqual(events.slice(2), [
    { type: 'next', job: 'a', nextTickMs: 3 },
    { type: 'next', job: 'b', nextTickMs: 9 },
  ]);
  closed.abort();
  await done;
});

test('closing removes every listener', async () => {
  const { daemon, events, closed, done } = subscribe();
  await waitFor('the snapshot', () => events.length === 1);
  assert.ok(daemon.listenerCount('next-tick') > 0);
  closed.abort();
  await done;
  for (const e of ['next-tick', 'jobs-changed']) assert.equal(daemon.listenerCount(e), 0, e);
  for (const e of ['run-started', 'run-finished']) assert.equal(daemon.executor.listenerCount(e), 0, e);
  assert.equal(daemon.recorder.listenerCount('run-recorded'), 0, 'run-recorded');
});

test('a subscriber that stops reading is dropped, not buffered for', async () => {
  let backlog = 0;
  const { daemon, events, done } = subscribe(() => backlog);
  await waitFor('the snapshot', () => events.length === 1);
  backlog = 64 * 1024 * 1024;
  daemon.executor.emit('run-started', run('R1', 'running'));
  await assert.rejects(done, SubscriberTooSlowError);
  assert.equal(daemon.executor.listenerCount('run-started'), 0);
});
