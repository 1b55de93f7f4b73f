import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { JobDefinition } from '../../src/daemon/crontab/types.js';
import type { ClaimOutcome, ClaimRequest } from '../../src/daemon/coordination/coordinator.js';
import { EmbeddedCoordinator } from '../../src/daemon/coordination/embedded.js';
import type { SubmitResult, TickRun } from '../../src/daemon/executor/executor.js';
import { silentLogger } from '../../src/daemon/log.js';
import { openDatabase } from '../../src/daemon/runlog/database.js';
import { RunLog } from '../../src/daemon/runlog/run-log.js';
import { RunRecorder } from '../../src/daemon/runlog/run-recorder.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { scheduleFor } from '../../src/daemon/schedule/index.js';
import { TickPipeline, type TickOutcome } from '../../src/daemon/ticks/tick-pipeline.js';
import type { Placement } from '../../src/daemon/ticks/placement.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { PauseState } from '../../src/daemon/jobs/job-pauses.js';
import { HostCapacity } from '../../src/daemon/ticks/host-capacity.js';
import { EmbeddedGroupSlots } from '../../src/daemon/coordination/embedded-group-slots.js';

/**
 * The tick pipeline on the real embedded coordinator and a real SQLite run
 * log, with a fake clock. Outcomes only an etcd cluster produces (busy,
 * notYet, a gap behind the cursor, a lost reply, a lease lost in flight)
 * are scripted on top of the embedded store: the pipeline's decisions are
 * what is under test, not etcd's.
 */

const dir = mkdtempSync(join(tmpdir(), 'dcron-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const MINUTE = 60_000;
const T0 = Date.UTC(2027, 0, 1, 12, 0, 0);
let fileSeq = 0;

function job(line: string): JobDefinition {
  return parseCrontab(`${line}\n`, { file: join(dir, 'crontab'), defaultTz: 'UTC' }).jobs[0];
}

/** A coordinator whose claim answers can be scripted; everything else is the embedded store. */
class ScriptedCoordinator extends EmbeddedCoordinator {
  readonly script: Array<(r: ClaimRequest) => Promise<ClaimOutcome>> = [];
  readonly requests: ClaimRequest[] = [];
  proven = true;
  taken = false;
  /** Runs after a claim is answered and before the pipeline sees the answer (a lease lapsing in flight). */
  onAnswer: (() => void) | null = null;

  override async claim(r: ClaimRequest): Promise<ClaimOutcome> {
    this.requests.push(r);
    const next = this.script.shift();
    const outcome = next ? await next(r) : await super.claim(r);
    this.onAnswer?.();
    return outcome;
  }

  override mayAct(): boolean {
    return this.proven;
  }

  override async takenElsewhere(): Promise<boolean> {
    return this.taken;
  }
}

function setup(opts: { startedMs?: number; sharesTicks?: boolean; placement?: Pick<Placement, 'delayFor'>; lateGraceMs?: number; slots?: number; groups?: Record<string, number>; unmet?: (job: JobDefinition) => string | null } = {}) {
  const db = openDatabase(join(dir, `runs-${++fileSeq}.db`));
  const runLog = new RunLog(db);
  const clock = new FakeClock(T0);
  const recorder = new RunRecorder({ runLog, host: 'h1', log: silentLogger, now: () => clock.now() });
  const coordinator = new ScriptedCoordinator(db);
  const submitted: TickRun[] = [];
  const running = new Set<string>();
  const counts: Array<[TickOutcome, string, number]> = [];
  const jobs = new Map<string, JobDefinition>();
  const pauses = new Map<string, PauseState>();
  // What the runner holds: a test sets it to fill the host.
  const inUse = { slots: 0 };
  const capacity = new HostCapacity(opts.slots ?? 0, () => inUse.slots);
  const groups = new EmbeddedGroupSlots();
  let storeErrors = 0;
  const pipeline = new TickPipeline({
    coordinator,
    placement: { eligible: (_job, self) => [self], eligibleHere: () => true, delayFor: opts.placement?.delayFor ?? (() => 0) },
    recorder,
    runner: {
      submit: (run): SubmitResult => {
        submitted.push(run);
        inUse.slots += run.job.options.slots;
        return { kind: 'started', runId: `run-${submitted.length}` };
      },
      isRunning: (name) => running.has(name),
    },
    clock,
    log: silentLogger,
    lateGraceMs: opts.lateGraceMs ?? 5000,
    startedMs: opts.startedMs ?? T0,
    sharesTicks: opts.sharesTicks ?? false,
    canRecord: () => runLog.writable,
    jobOf: (name) => jobs.get(name),
    scheduleOf: (j) => scheduleFor(j.schedule, j.tz),
    pauseOf: (name) => pauses.get(name),
    capacity,
    groups,
    groupLimit: (g) => opts.groups?.[g],
    unmetRequirement: opts.unmet ?? (() => null),
    onTicks: (outcome, name, count) => counts.push([outcome, name, count]),
    onStoreError: () => storeErrors++,
  });
  const add = (line: string) => {
    const j = job(line);
    jobs.set(j.name, j);
    return j;
  };
  // Ids made in the same fake millisecond do not sort by creation: order by tick.
  const records = (name: string): RunRecord[] => runLog.history({ job: name, limit: 1000 }).sort((a, b) => a.tickMs - b.tickMs);
  /** Lets the pipeline's promise chains run until they wait on the fake clock or are done. */
  const flush = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  after(() => db.close());
  return { pipeline, coordinator, clock, submitted, running, counts, records, add, flush, storeErrors: () => storeErrors, jobs, pauses, inUse, capacity, groups };
}

test('an on-time tick is claimed once and submitted with its fence; the same tick again is not', async () => {
  const s = setup();
  const j = s.add('#dcron name=on-time\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 1);
  assert.equal(s.submitted[0].tickMs, T0 + MINUTE);
  assert.equal(s.submitted[0].trigger, 'schedule');
  assert.equal(s.submitted[0].fence, 1);
  assert.equal(s.submitted[0].busyFence, s.submitted[0].fence, 'overlap=skip holds the busy mark of its own claim');
  assert.deepEqual(s.records(j.name), [], 'the repeated tick is taken, not recorded');
});

test('ticks from before the daemon started are missed, except the newest inside catchup, which runs once', async () => {
  const s = setup({ startedMs: T0 });
  const missedJob = s.add('#dcron name=no-catchup\n* * * * * true');
  const catchJob = s.add('#dcron name=with-catchup catchup=2m\n* * * * * true');
  s.clock.jump(T0 + 30_000);
  const ticks = [T0 - 3 * MINUTE, T0 - 2 * MINUTE, T0 - MINUTE];
  s.pipeline.due({ key: missedJob.name, ticks, overflowUntil: null });
  s.pipeline.due({ key: catchJob.name, ticks, overflowUntil: null });
  await s.pipeline.settled();
  assert.deepEqual(s.records(missedJob.name).map((r) => [r.status, r.tickMs]), ticks.map((t) => ['missed', t]));
  assert.match(s.records(missedJob.name)[0].message!, /no catchup window/);
  assert.equal(await s.coordinator.cursor(missedJob.name), T0 - MINUTE, 'the cursor is moved past the missed ticks');
  assert.deepEqual(s.submitted.map((r) => [r.job.name, r.tickMs, r.trigger]), [['with-catchup', T0 - MINUTE, 'catchup']]);
  assert.deepEqual(s.records(catchJob.name).map((r) => [r.status, r.tickMs]), [['missed', T0 - 3 * MINUTE], ['missed', T0 - 2 * MINUTE]]);
  assert.ok(s.counts.some(([o, name, n]) => o === 'missed' && name === missedJob.name && n === 3));
});

test('a tick due just before the start: missed on one host, claimed in a cluster where a peer may hold it', async () => {
  for (const sharesTicks of [false, true]) {
    const s = setup({ startedMs: T0 + 1000, sharesTicks });
    const j = s.add('#dcron name=just-before\n* * * * * true');
    s.clock.jump(T0 + 2000);
    s.pipeline.due({ key: j.name, ticks: [T0], overflowUntil: null });
    await s.pipeline.settled();
    assert.equal(s.submitted.length, sharesTicks ? 1 : 0, `sharesTicks=${sharesTicks}`);
    assert.deepEqual(s.records(j.name).map((r) => r.status), sharesTicks ? [] : ['missed']);
  }
});

test('a claim that reports a gap behind the cursor records each unclaimed tick as missed, and runs its own', async () => {
  const s = setup();
  const j = s.add('#dcron name=gap\n* * * * * true');
  const tick = T0 + 4 * MINUTE;
  s.coordinator.script.push(async () => ({ outcome: 'claimed', fence: 7, previousTickMs: T0 + MINUTE }));
  s.clock.jump(tick);
  s.pipeline.due({ key: j.name, ticks: [tick], overflowUntil: null });
  await s.pipeline.settled();
  assert.deepEqual(s.submitted.map((r) => [r.tickMs, r.fence]), [[tick, 7]]);
  const missed = s.records(j.name);
  assert.deepEqual(missed.map((r) => [r.status, r.tickMs]), [['missed', T0 + 2 * MINUTE], ['missed', T0 + 3 * MINUTE]]);
  assert.match(missed[0].message!, /no node claimed this tick in time/);
});

test('a claim whose outcome stays unknown until the tick is late is recorded lost, never dropped', async () => {
  const s = setup({ lateGraceMs: 1000 });
  const j = s.add('#dcron name=unknown\n* * * * * true');
  const tick = T0 + MINUTE;
  // Every attempt fails in transit; the clock passes the late grace while the pipeline retries.
  for (let i = 0; i < 50; i++) s.coordinator.script.push(async () => Promise.reject(new Error('connection reset')));
  s.clock.jump(tick);
  s.pipeline.due({ key: j.name, ticks: [tick], overflowUntil: null });
  for (let i = 0; i < 20 && s.records(j.name).length === 0; i++) {
    await s.flush();
    s.clock.advance(200);
  }
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0);
  const [lost] = s.records(j.name);
  assert.equal(lost.status, 'lost');
  assert.equal(lost.fence, null, 'no fence is known for a claim that may not have committed');
  assert.match(lost.message!, /outcome is unknown \(connection reset\)/);
  assert.ok(s.storeErrors() >= 2, 'each failed attempt is counted as a store error');
});

test('busy elsewhere: the tick is recorded skipped, naming the holder', async () => {
  const s = setup({ sharesTicks: true });
  const j = s.add('#dcron name=busy\n* * * * * true');
  s.coordinator.script.push(async () => ({ outcome: 'busy', fence: 9, holder: 'h2' }));
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0);
  const [skipped] = s.records(j.name);
  assert.deepEqual([skipped.status, skipped.fence, skipped.message], ['skipped', 9, 'overlap=skip: the job is running on h2']);
});

test('notYet: a claim made ahead of its tick finds the job busy, and is made again at the tick', async () => {
  const s = setup({ sharesTicks: true });
  const j = s.add('#dcron name=not-yet\n* * * * * true');
  const tick = T0 + MINUTE;
  s.coordinator.script.push(async () => ({ outcome: 'notYet' }));
  s.clock.jump(tick - 100); // the claim lead hands the tick over 100 ms early
  s.pipeline.due({ key: j.name, ticks: [tick], overflowUntil: null });
  await s.flush();
  assert.deepEqual(s.coordinator.requests.map((r) => r.early), [true]);
  assert.equal(s.submitted.length, 0, 'nothing runs before the tick');
  s.clock.advance(100);
  await s.pipeline.settled();
  assert.deepEqual(s.coordinator.requests.map((r) => r.early), [true, undefined], 'the second claim is an ordinary one, at the tick');
  assert.deepEqual(s.submitted.map((r) => [r.tickMs, r.startAtMs]), [[tick, tick]]);
});

test('a lease lost between the claim and the start: recorded lost with its fence, not started', async () => {
  const s = setup({ sharesTicks: true });
  const j = s.add('#dcron name=lease-lost\n* * * * * true');
  s.coordinator.onAnswer = () => (s.coordinator.proven = false);
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0);
  const [lost] = s.records(j.name);
  assert.equal(lost.status, 'lost');
  assert.equal(lost.fence, 1, 'the claim committed: its fence is kept');
  assert.match(lost.message!, /could not prove its etcd lease when the claim was answered; not started/);
});

test('a busy mark gone with a replaced lease: recorded lost, not started', async () => {
  const s = setup({ sharesTicks: true });
  const j = s.add('#dcron name=mark-gone\n* * * * * true');
  s.coordinator.script.push(async () => ({ outcome: 'claimed', fence: 3, busyMarkGone: true }));
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0);
  assert.match(s.records(j.name)[0].message!, /busy mark went with an etcd lease replaced/);
});

test('a host ranked after a peer that claimed the tick sends no claim', async () => {
  const s = setup({ sharesTicks: true, placement: { delayFor: () => 50 } });
  const j = s.add('#dcron name=ranked\n* * * * * true');
  s.coordinator.taken = true;
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.coordinator.requests.length, 0);
  assert.equal(s.submitted.length, 0);
  assert.deepEqual(s.records(j.name), []);
});

test('a host not eligible for the job claims nothing', async () => {
  const s = setup({ sharesTicks: true, placement: { delayFor: (j) => (j.name === 'elsewhere' ? null : 0) } });
  const j = s.add('#dcron name=elsewhere\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.coordinator.requests.length, 0);
});

test('a job removed before its queued ticks are handled, or a stopped pipeline, handles nothing', async () => {
  const s = setup();
  const j = s.add('#dcron name=removed\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.jobs.delete(j.name);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  s.jobs.set(j.name, j);
  s.pipeline.stop();
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.coordinator.requests.length, 0);
  assert.equal(s.submitted.length, 0);
});

test('a manual run takes a fresh fence and no cursor', async () => {
  const s = setup();
  const j = s.add('#dcron name=manual\n* * * * * true');
  await s.pipeline.runNow(j);
  await s.pipeline.runNow(j);
  assert.deepEqual(s.submitted.map((r) => [r.trigger, r.fence]), [['manual', 1], ['manual', 2]]);
  assert.equal(await s.coordinator.cursor(j.name), null);
});

test('a busy mark whose release fails is released again until the store answers', async () => {
  const s = setup();
  let calls = 0;
  s.coordinator.releaseBusy = async () => {
    if (++calls < 3) throw new Error('etcd unreachable');
  };
  const released = s.pipeline.releaseBusy('j', 5);
  for (let i = 0; i < 10 && calls < 3; i++) {
    await s.flush();
    s.clock.advance(1000);
  }
  await released;
  assert.equal(calls, 3);
});

test('a sharded tick is claimed per shard, on each shard\'s own cursor, and each shard is submitted once with its ref', async () => {
  const placed: string[] = [];
  const s = setup({ placement: { delayFor: (_j, _t, unit) => (placed.push(unit), 0) } });
  const j = s.add('#dcron name=split shards=3\n* * * * * true');
  const tick = T0 + MINUTE;
  s.clock.jump(tick);
  s.pipeline.due({ key: j.name, ticks: [tick], overflowUntil: null });
  s.pipeline.due({ key: j.name, ticks: [tick], overflowUntil: null });
  await s.pipeline.settled();
  assert.deepEqual(s.submitted.map((r) => r.shard).sort((a, b) => a!.index - b!.index), [0, 1, 2].map((index) => ({ index, count: 3 })));
  assert.deepEqual([...new Set(s.coordinator.requests.map((r) => r.job))].sort(), ['split/0', 'split/1', 'split/2']);
  assert.deepEqual([...new Set(placed)].sort(), ['split/0', 'split/1', 'split/2'], 'each shard is placed on its own');
  for (const unit of ['split/0', 'split/1', 'split/2']) assert.equal(await s.coordinator.cursor(unit), tick);
  assert.equal(await s.coordinator.cursor('split'), null, 'the job itself has no cursor of its own');
});

test('missed ticks of a sharded job are recorded once per shard, with the shard', async () => {
  const s = setup({ startedMs: T0 });
  const j = s.add('#dcron name=split-missed shards=2\n* * * * * true');
  s.clock.jump(T0 + 30_000);
  s.pipeline.due({ key: j.name, ticks: [T0 - MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.deepEqual(s.records(j.name).map((r) => [r.status, r.shard, r.shards]).sort(), [['missed', 0, 2], ['missed', 1, 2]]);
});

test('a dependent tick learnt on time runs with trigger dependency; learnt late it runs inside catchup or is recorded missed', async () => {
  const s = setup({ lateGraceMs: 5000 });
  const onTime = s.add('#dcron name=child-a after=p\n@after true');
  const withCatchup = s.add('#dcron name=child-b after=p catchup=10m\n@after true');
  const late = s.add('#dcron name=child-c after=p\n@after true');
  const parentTick = T0;
  s.clock.jump(T0 + 2 * MINUTE);
  s.pipeline.dependencyDue(onTime, parentTick, T0 + 2 * MINUTE - 1000);
  s.pipeline.dependencyDue(withCatchup, parentTick, T0 + MINUTE);
  s.pipeline.dependencyDue(late, parentTick, T0 + MINUTE);
  s.pipeline.dependencyDue(onTime, parentTick, T0 + 2 * MINUTE - 1000);
  await s.pipeline.settled();
  assert.deepEqual(s.submitted.map((r) => [r.job.name, r.tickMs, r.trigger]).sort(), [['child-a', parentTick, 'dependency'], ['child-b', parentTick, 'dependency']]);
  assert.deepEqual(s.records(late.name).map((r) => [r.status, r.tickMs, r.trigger]), [['missed', parentTick, 'dependency']]);
  assert.match(s.records(late.name)[0].message!, /parents ended this tick while no daemon could start it/);
  assert.equal(await s.coordinator.cursor(late.name), parentTick, 'the missed tick moved the cursor: it is not run later');
});

test('a paused job\'s ticks are claimed without a busy mark and recorded paused, not run; missed ticks inside the pause are paused too; ticks from its until run', async () => {
  const s = setup({ startedMs: T0 });
  const j = s.add('#dcron name=paused-job\n* * * * * true');
  s.pauses.set(j.name, { untilMs: T0 + 2 * MINUTE, atMs: T0 - 5 * MINUTE, by: 'h2' });
  s.clock.jump(T0 + MINUTE);
  // Two ticks from before the daemon started (no catchup: they would be missed) and one on time.
  s.pipeline.due({ key: j.name, ticks: [T0 - 2 * MINUTE, T0 - MINUTE, T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0, 'nothing runs while paused');
  const recs = s.records(j.name);
  assert.deepEqual(recs.map((r) => [r.status, r.tickMs]), [['paused', T0 - 2 * MINUTE], ['paused', T0 - MINUTE], ['paused', T0 + MINUTE]]);
  assert.match(recs[2].message!, /paused \(by h2 at .*until 2027-01-01T12:02:00.000Z\)/);
  assert.notEqual(recs[2].fence, null, 'the on-time paused tick was claimed, so it is recorded once cluster-wide');
  assert.equal(s.coordinator.requests.at(-1)!.holdBusy, false, 'a paused tick takes no busy mark');
  assert.equal(await s.coordinator.cursor(j.name), T0 + MINUTE, 'the cursor moved past it: resuming does not run it later');

  // The pause ends at its until: the tick at that instant runs.
  s.clock.jump(T0 + 2 * MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + 2 * MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.deepEqual(s.submitted.map((r) => r.tickMs), [T0 + 2 * MINUTE]);
  assert.equal(s.submitted[0].busyFence, s.submitted[0].fence, 'a run after the pause holds its overlap=skip mark again');

  // Resumed (no pause at all): the next tick runs.
  s.pauses.delete(j.name);
  s.clock.jump(T0 + 3 * MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + 3 * MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 2);
  assert.equal(s.records(j.name).filter((r) => r.status === 'paused').length, 3);
});

test('slots: a full single host waits for room within the late grace, runs the tick when a slot frees, and records it skipped when none does', async () => {
  const s = setup({ slots: 2, lateGraceMs: 5000 });
  const heavy = s.add('#dcron name=heavy slots=2\n* * * * * true');
  s.inUse.slots = 1;
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: heavy.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.flush();
  assert.equal(s.submitted.length, 0, 'one of two slots is taken: a slots=2 run does not fit');
  assert.equal(s.coordinator.requests.length, 0, 'and it is not claimed meanwhile');
  // The run holding the slot ends: the tick runs, late but inside the grace.
  s.clock.advance(1000);
  s.inUse.slots = 0;
  s.capacity.runEnded();
  await s.pipeline.settled();
  assert.deepEqual(s.submitted.map((r) => r.tickMs), [T0 + MINUTE]);

  // Now full (the run above holds both slots) through the whole grace: recorded skipped, claimed so once.
  s.clock.jump(T0 + 2 * MINUTE);
  s.pipeline.due({ key: heavy.name, ticks: [T0 + 2 * MINUTE], overflowUntil: null });
  await s.flush();
  s.clock.advance(5000);
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 1);
  const [skipped] = s.records(heavy.name);
  assert.equal(skipped.status, 'skipped');
  assert.equal(skipped.tickMs, T0 + 2 * MINUTE);
  assert.notEqual(skipped.fence, null);
  assert.match(skipped.message!, /no free slot on this host within the late grace \(5000 ms\): 2 of this host's 2 slots in use, the job needs 2/);
  assert.equal(s.coordinator.requests.at(-1)!.holdBusy, false, 'a tick recorded for want of room takes no busy mark');
});

test('slots: two ticks due at once on one free slot: one runs, the other cannot take the slot the first holds while it is claimed', async () => {
  const s = setup({ slots: 1, lateGraceMs: 2000 });
  const a = s.add('#dcron name=a\n* * * * * true');
  const b = s.add('#dcron name=b\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: a.name, ticks: [T0 + MINUTE], overflowUntil: null });
  s.pipeline.due({ key: b.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.flush();
  s.clock.advance(2000);
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 1);
  const loser = s.submitted[0].job.name === 'a' ? b.name : a.name;
  assert.deepEqual(s.records(loser).map((r) => r.status), ['skipped']);
});

test('slots: a full cluster node passes the tick on: a peer that claims it ends the wait, with no claim and no record here', async () => {
  const s = setup({ slots: 1, sharesTicks: true });
  const j = s.add('#dcron name=passed\n* * * * * true');
  s.inUse.slots = 1;
  s.coordinator.taken = true;
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0);
  assert.equal(s.coordinator.requests.length, 0);
  assert.deepEqual(s.records(j.name), []);
});

test('groups: a group of 2 runs two of three ticks due at once; the third runs when a run settles, within the late grace', async () => {
  const s = setup({ groups: { etl: 2 }, lateGraceMs: 5000 });
  const names = ['g1', 'g2', 'g3'].map((n) => s.add(`#dcron name=${n} group=etl\n* * * * * true`).name);
  s.clock.jump(T0 + MINUTE);
  for (const n of names) s.pipeline.due({ key: n, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.flush();
  assert.equal(s.submitted.length, 2, 'two permits, two runs');
  assert.equal(s.groups.inUse('etl'), 2, 'each run holds its permit until it settles');
  assert.equal(s.coordinator.requests.length, 2, 'the third tick is not claimed while it has no permit');
  s.clock.advance(1000);
  s.submitted[0].onSettled!();
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 3);
  assert.equal(s.groups.inUse('etl'), 2);
  for (const r of s.submitted) r.onSettled!();
  assert.equal(s.groups.inUse('etl'), 0, 'every permit comes back when its run settles');
});

test('groups: a tick no permit comes free for within the late grace is claimed once and recorded skipped, holding no permit', async () => {
  const s = setup({ groups: { etl: 1 }, lateGraceMs: 3000 });
  const a = s.add('#dcron name=a group=etl\n* * * * * true');
  const b = s.add('#dcron name=b group=etl\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: a.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.flush();
  s.pipeline.due({ key: b.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.flush();
  s.clock.advance(3000);
  await s.pipeline.settled();
  assert.deepEqual(s.submitted.map((r) => r.job.name), ['a']);
  const [skipped] = s.records(b.name);
  assert.equal(skipped.status, 'skipped');
  assert.match(skipped.message!, /^group etl is full: no permit came free within the late grace \(3000 ms\); 1 of its 1 permits held/);
  assert.equal(s.groups.inUse('etl'), 1, "only a's run holds a permit");
});

test('groups: a tick that is not claimed here gives its permit back at once', async () => {
  const s = setup({ groups: { etl: 1 } });
  const j = s.add('#dcron name=once group=etl\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.coordinator.script.push(async () => ({ outcome: 'taken' }));
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0);
  assert.equal(s.groups.inUse('etl'), 0);
});

test('groups: a job whose group this daemon has no limit for is recorded skipped after the grace, naming the flag', async () => {
  const s = setup({ lateGraceMs: 1000 });
  const j = s.add('#dcron name=nolimit group=reports\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.flush();
  s.clock.advance(1000);
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 0);
  assert.match(s.records(j.name)[0].message!, /group reports has no limit on this host within the late grace \(1000 ms\): this daemon has no --group reports=K/);
});

test('requires: a host that does not meet it waits, runs the tick if it comes to meet it within the grace, else records why', async () => {
  let unmet: string | null = 'free memory 1 GiB, the job requires mem>=2GiB';
  const s = setup({ lateGraceMs: 2000, unmet: () => unmet });
  const j = s.add('#dcron name=big requires=mem>=2GiB,load<4\n* * * * * true');
  s.clock.jump(T0 + MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + MINUTE], overflowUntil: null });
  await s.flush();
  assert.equal(s.coordinator.requests.length, 0);
  unmet = null;
  s.clock.advance(500);
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 1);
  unmet = 'load 7.5, the job requires load<4';
  s.clock.jump(T0 + 2 * MINUTE);
  s.pipeline.due({ key: j.name, ticks: [T0 + 2 * MINUTE], overflowUntil: null });
  for (let i = 0; i < 5; i++) {
    await s.flush();
    s.clock.advance(500);
  }
  await s.pipeline.settled();
  assert.equal(s.submitted.length, 1);
  assert.match(s.records(j.name)[0].message!, /this host does not meet the job's requires= within the late grace \(2000 ms\): load 7.5/);
});
