/**
 * Judges one chaos scenario from the jobs' own ledger, not from dcron's
 * bookkeeping: which ticks were due (from the workload's periods), which
 * ran and how often, which overlapped, and whether fences grew with ticks.
 * dcron's run records are consulted only for the ticks that did not run,
 * to tell a tick recorded as missed or skipped from one lost without a trace.
 *
 * A sharded job's tick is judged per shard, as a tick of its own. A
 * dependent job (`after=`) is due once per parent tick whose every shard
 * wrote its end line; each of its runs must start after every shard of
 * that parent tick ended (the ledger's own clock readings).
 *
 * With the daemons' `--slots` and `--group` given, no host may have more
 * slots in use at any moment than it has, nor a group more runs alive
 * (concurrency.ts). A tick recorded skipped for want of room (no free
 * slot, the group full) is the tick's one outcome: it must not also run.
 */
import { checkConcurrency, describeSpan, type Peak } from './concurrency.js';
import type { LedgerEntry } from './ledger.js';
import type { WorkloadJob } from './workload.js';

/** A run record as dcron stored it on some host (only what the checker needs). */
export interface RecordedRun {
  job: string;
  tickMs: number;
  host: string;
  status: string;
  trigger: string;
  message?: string | null;
  /** The shard of a sharded job's record; null or absent otherwise. */
  shard?: number | null;
}

/** A fault as the harness injected it, for the report. */
export interface FaultEvent {
  what: string;
  startMs: number;
  endMs: number;
  /** The daemons it struck; absent: all of them (an etcd fault). */
  hosts?: string[];
}

export interface CheckInput {
  jobs: readonly WorkloadJob[];
  /** Ticks in [fromMs, toMs] are judged. */
  fromMs: number;
  toMs: number;
  hosts: readonly string[];
  ledger: readonly LedgerEntry[];
  records: readonly RecordedRun[];
  faults: readonly FaultEvent[];
  /** Jobs that come and go (crontab edits): checked for duplicates, overlap and fences, not for missing ticks. */
  churnJobs?: readonly string[];
  /**
   * Hosts whose clock is off by this much (ms, + ahead). A mode=all tick is
   * due on such a host only while its own clock was inside the window: one
   * ahead starts its cursor later, one behind has not reached the last ticks.
   * And a job is new from the clock of the host that first starts its cursor:
   * one running ahead starts it in the future, so no tick is judged before
   * the window's start plus the largest lead.
   */
  clockOffsetsMs?: Readonly<Record<string, number>>;
  /** Every daemon's `--slots` (absent: no limit, no slot check). */
  slotsPerHost?: number;
  /** The daemons' `--group NAME=K`. */
  groups?: Readonly<Record<string, number>>;
  /** When the ledger was read: a run with neither an end nor a gone line counts as alive until then (default: its last line). */
  ledgerReadMs?: number;
}

export interface Violation {
  kind: 'duplicate' | 'unrecorded' | 'overlap' | 'fence' | 'unscheduled' | 'early' | 'shard' | 'parent-tick' | 'slots' | 'group' | 'skipped-ran';
  job: string;
  tickMs: number;
  host?: string;
  shard?: number;
  detail: string;
}

export interface CheckReport {
  /** Due (job, tick) pairs judged; mode=all counts one per host, a sharded job one per shard, a dependent job one per parent tick that ended. */
  due: number;
  ranOnce: number;
  duplicated: number;
  /** Failover reruns of a tick whose first run died unfinished (allowed). */
  rerun: number;
  /**
   * Failover reruns of a tick whose first run had finished, on a host that died
   * or stalled before it could report that: failover=rerun is at-least-once by
   * design. Allowed only when a fault struck that host around the tick.
   */
  rerunAfterFinish: number;
  missedRecorded: number;
  skippedRecorded: number;
  /** Of the skipped, those recorded for want of room: no free slot on any host, or the group full. */
  skippedNoRoom: number;
  /** The same, by the reason recorded (the last lack the recording host found: slots are looked at before the group). */
  skippedNoSlot: number;
  skippedGroupFull: number;
  /** Claimed and recorded (lost, killed...) but the job never wrote its start line. */
  recordedNotStarted: number;
  unrecorded: number;
  overlaps: number;
  fenceViolations: number;
  /** Dependent runs that started before every shard of their parent tick had ended. */
  childEarly: number;
  /**
   * Parent ticks that ended (every shard wrote its end line) with no child run
   * and no record of one, where a shard ran on a host a fault struck around
   * the tick: that host may have died before reporting the shard's end, and
   * a shard whose host died counts as failed (failover=none) or is rerun.
   */
  parentUnreported: number;
  /** Of the missed and skipped ticks, those outside every fault window (slack of a few seconds); skips for want of room are the workload's own. */
  notRunOutsideFaults: number;
  /** Moments a host had more slots in use than its `--slots`, or a group more runs alive than its limit (one per stretch over). */
  slotViolations: number;
  groupViolations: number;
  /** Ticks recorded skipped for want of room that also ran. */
  skippedAndRan: number;
  /** The most slots in use at once per host, and runs alive at once per group (from the ledger). */
  maxSlots: Record<string, Peak>;
  maxGroup: Record<string, Peak>;
  /** Runs killed before their end line, ended at their gone line; runs with neither, alive until the ledger was read. */
  runsGone: number;
  runsEndUnknown: number;
  /** The same counts per job: where a scenario's skipped or missed ticks went. */
  perJob: Record<string, { due: number; ran: number; missed: number; skipped: number; noRoom: number; notStarted: number; unrecorded: number; parentUnreported: number }>;
  violations: Violation[];
  ok: boolean;
}

const RUN_TRIGGERS = new Set(['schedule', 'catchup', 'failover', 'dependency']);
/** A fault's effects (lease expiry, catch-up) reach this far past its window. */
const FAULT_SLACK_MS = 15_000;
/** The reasons a tick no host had room for is recorded skipped with (ticks/tick-room.ts). */
const NO_ROOM = /^(no free slot on (any|this) host|group \S+ is full)\b/;
/** A skipped record for want of room, of a tick (a failover rerun skipped for room is not the tick's outcome). */
const noRoom = (rec: RecordedRun) => rec.status === 'skipped' && rec.trigger !== 'failover' && NO_ROOM.test(rec.message ?? '');

export function check(input: CheckInput): CheckReport {
  const r: CheckReport = {
    due: 0, ranOnce: 0, duplicated: 0, rerun: 0, rerunAfterFinish: 0, missedRecorded: 0, skippedRecorded: 0, skippedNoRoom: 0, skippedNoSlot: 0, skippedGroupFull: 0, recordedNotStarted: 0, unrecorded: 0, overlaps: 0, fenceViolations: 0, childEarly: 0, parentUnreported: 0, notRunOutsideFaults: 0,
    slotViolations: 0, groupViolations: 0, skippedAndRan: 0, maxSlots: {}, maxGroup: {}, runsGone: 0, runsEndUnknown: 0, perJob: {}, violations: [], ok: true,
  };
  const byName = new Map(input.jobs.map((j) => [j.name, j]));
  const churn = new Set(input.churnJobs ?? []);
  const violate = (v: Violation) => r.violations.push(v);
  /** The unit a tick is judged as: the tick, per host for mode=all, per shard for a sharded job. */
  const keyOf = (job: string, tickMs: number, host: string | null, shard: number | null | undefined) => {
    const j = byName.get(job);
    if (j?.mode === 'all') return `${job}@${tickMs}@${host}`;
    return j?.shards ? `${job}@${tickMs}/${shard ?? '-'}` : `${job}@${tickMs}`;
  };
  const shardsOf = (job: WorkloadJob): Array<number | null> => (job.shards ? Array.from({ length: job.shards }, (_, i) => i) : [null]);
  /** A dependent job's schedule is its parent's. */
  const periodOf = (job: WorkloadJob) => (job.after ? (byName.get(job.after)?.periodS ?? job.periodS) : job.periodS) * 1000;

  // Runs of each tick (every host), as the ledger tells them.
  const runs = new Map<string, Run[]>();
  for (const e of input.ledger) {
    if (e.kind === 'overlap') {
      r.overlaps++;
      violate({ kind: 'overlap', job: e.job, tickMs: e.tickMs, host: e.host, detail: `tick ${e.tickMs}${e.shard != null ? ` shard ${e.shard}` : ''} (${e.trigger}, fence ${e.fence}) started on ${e.host} while another run of the job held its lock` });
      continue;
    }
    // The watcher's line: when the run's last process went (for the slot and group checks).
    if (e.kind === 'gone') continue;
    if (!RUN_TRIGGERS.has(e.trigger)) continue;
    const k = keyOf(e.job, e.tickMs, e.host, e.shard);
    const id = `${k}#${e.fence}`;
    let list = runs.get(k);
    if (!list) runs.set(k, (list = []));
    let run = list.find((x) => x.id === id);
    if (!run) list.push((run = { id, job: e.job, tickMs: e.tickMs, host: e.host, fence: e.fence, trigger: e.trigger, shard: e.shard ?? null, started: false, ended: false, startAtMs: null, endAtMs: null }));
    if (e.kind === 'start') {
      run.started = true;
      run.startAtMs = e.atMs ?? null;
      checkIdentity(e);
    } else {
      run.ended = true;
      run.endAtMs = e.atMs ?? null;
    }
  }

  /** A start line's shard and parent tick agree with its job (lines of the 7-field form carry neither). */
  function checkIdentity(e: LedgerEntry): void {
    const job = byName.get(e.job);
    if (!job || e.shards === undefined) return;
    if (job.shards ? e.shards !== job.shards || e.shard == null || e.shard < 0 || e.shard >= job.shards : e.shard != null || e.shards != null) {
      violate({ kind: 'shard', job: e.job, tickMs: e.tickMs, host: e.host, detail: `run on ${e.host} (fence ${e.fence}) had DCRON_SHARD=${e.shard ?? 'unset'} DCRON_SHARDS=${e.shards ?? 'unset'}; the job has ${job.shards ?? 'no'} shards` });
    }
    if (job.after && e.trigger === 'dependency' && (e.parentTick == null || Date.parse(e.parentTick) !== e.tickMs)) {
      violate({ kind: 'parent-tick', job: e.job, tickMs: e.tickMs, host: e.host, detail: `run on ${e.host} (fence ${e.fence}) had DCRON_TICK_MS=${e.tickMs} but DCRON_PARENT_TICK=${e.parentTick ?? 'unset'}` });
    }
  }

  const recorded = new Map<string, RecordedRun[]>();
  for (const rec of input.records) {
    const k = keyOf(rec.job, rec.tickMs, rec.host, rec.shard);
    const list = recorded.get(k) ?? [];
    list.push(rec);
    recorded.set(k, list);
  }
  const inFault = (t: number, host?: string) => input.faults.some((f) => t >= f.startMs - FAULT_SLACK_MS && t <= f.endMs + FAULT_SLACK_MS && (host === undefined || f.hosts === undefined || f.hosts.includes(host)));

  // Every run: duplicates, reruns, unscheduled ticks.
  for (const [key, list] of runs) {
    const job = byName.get(list[0].job);
    const started = list.filter((x) => x.started).sort((a, b) => a.fence - b.fence);
    if (job && list[0].tickMs % periodOf(job) !== 0) {
      violate({ kind: 'unscheduled', job: job.name, tickMs: list[0].tickMs, detail: `ran a tick that is not on the ${job.after ? `parent's (${job.after})` : "job's"} schedule (every ${periodOf(job) / 1000} s)` });
    }
    if (started.length <= 1) continue;
    // Only a failover=rerun job may run a tick again: after the earlier run died unfinished,
    // or finished on a host that a fault kept from reporting it.
    const earlier = started.slice(0, -1);
    const reruns = started.slice(1);
    if (job?.failover && reruns.every((x) => x.trigger === 'failover')) {
      const finished = earlier.filter((x) => x.ended);
      if (finished.length === 0) {
        r.rerun += reruns.length;
        continue;
      }
      if (finished.every((x) => inFault(x.tickMs, x.host))) {
        r.rerunAfterFinish += reruns.length;
        continue;
      }
    }
    r.duplicated++;
    violate({ kind: 'duplicate', job: list[0].job, tickMs: list[0].tickMs, shard: list[0].shard ?? undefined, detail: `${key} ran ${started.length} times: ${started.map((x) => `${x.host} fence ${x.fence} (${x.trigger}${x.ended ? ', finished' : ''})`).join('; ')}` });
  }

  /** Whether every shard of the parent's tick wrote its end line; and the hosts its runs started on. */
  const parentTick = (parent: WorkloadJob, t: number) => {
    const shardRuns = shardsOf(parent).map((s) => (runs.get(keyOf(parent.name, t, null, s)) ?? []).filter((x) => x.started));
    return { ended: shardRuns.every((l) => l.some((x) => x.ended)), shardRuns, hosts: new Set(shardRuns.flat().map((x) => x.host)) };
  };

  // Every due tick of every core job: ran once, or why not.
  for (const job of input.jobs) {
    if (churn.has(job.name)) continue;
    const period = periodOf(job);
    const parent = job.after ? byName.get(job.after) : undefined;
    if (job.after && !parent) throw new RangeError(`${job.name} follows ${job.after}, which is not in the workload`);
    const units: Array<{ host: string | null; shard: number | null }> = job.mode === 'all' ? input.hosts.map((host) => ({ host, shard: null })) : shardsOf(job).map((shard) => ({ host: null, shard }));
    const mine = (r.perJob[job.name] = { due: 0, ran: 0, missed: 0, skipped: 0, noRoom: 0, notStarted: 0, unrecorded: 0, parentUnreported: 0 });
    const lead = Math.max(0, ...Object.values(input.clockOffsetsMs ?? {}));
    for (let t = Math.ceil((input.fromMs + lead) / period) * period; t <= input.toMs; t += period) {
      // A child is due once per parent tick that ended: every shard of it wrote its end line.
      const parentState = parent ? parentTick(parent, t) : null;
      if (parentState && !parentState.ended) continue;
      for (const { host, shard } of units) {
        const offset = host === null ? 0 : (input.clockOffsetsMs?.[host] ?? 0);
        if (t < input.fromMs + Math.max(0, offset) || t > input.toMs + Math.min(0, offset)) continue;
        r.due++;
        mine.due++;
        const key = keyOf(job.name, t, host, shard);
        const recs = recorded.get(key) ?? [];
        if (runs.get(key)?.some((x) => x.started)) {
          r.ranOnce++;
          mine.ran++;
          // No room anywhere is the tick's one outcome: recorded so, it must not also have run.
          const skip = recs.find(noRoom);
          if (skip) {
            r.skippedAndRan++;
            const ran = runs.get(key)!.filter((x) => x.started).map((x) => `${x.host} fence ${x.fence} (${x.trigger})`);
            violate({ kind: 'skipped-ran', job: job.name, tickMs: t, host: host ?? undefined, shard: shard ?? undefined, detail: `recorded skipped on ${skip.host} ('${skip.message}'), but ran on ${ran.join('; ')}` });
          }
          continue;
        }
        if (recs.some((x) => x.status === 'missed')) (r.missedRecorded++, mine.missed++);
        else if (recs.some(noRoom)) {
          r.skippedRecorded++;
          mine.skipped++;
          r.skippedNoRoom++;
          mine.noRoom++;
          if (recs.find(noRoom)!.message!.startsWith('group ')) r.skippedGroupFull++;
          else r.skippedNoSlot++;
          // The workload wants more room than there is: these are its own, as overlap=skip's are.
          continue;
        } else if (recs.some((x) => x.status === 'skipped')) (r.skippedRecorded++, mine.skipped++);
        else if (recs.length > 0) (r.recordedNotStarted++, mine.notStarted++);
        else if (parentState && [...parentState.hosts].some((h) => inFault(t, h))) {
          r.parentUnreported++;
          mine.parentUnreported++;
          continue;
        } else {
          r.unrecorded++;
          mine.unrecorded++;
          const where = host ? ` on ${host}` : shard !== null ? ` (shard ${shard})` : '';
          const why = parentState ? `every shard of ${parent!.name}'s tick ended (on ${[...parentState.hosts].join(', ')}), but no run of ${job.name} followed, and no host recorded it` : 'no run, and no host recorded it';
          violate({ kind: 'unrecorded', job: job.name, tickMs: t, host: host ?? undefined, shard: shard ?? undefined, detail: `due ${new Date(t).toISOString()}${where}: ${why}` });
          continue;
        }
        // overlap=skip skips are the policy at work whenever a run lasts longer than the period.
        const expectedSkip = job.overlap === 'skip' && job.runS >= job.periodS && recs.some((x) => x.status === 'skipped');
        if (!expectedSkip && !inFault(t)) r.notRunOutsideFaults++;
      }
    }
  }

  // A child starts only after every shard of its parent tick ended: each shard has an end line written before the child's start line.
  for (const job of input.jobs) {
    const parent = job.after ? byName.get(job.after) : undefined;
    if (!parent) continue;
    for (const list of runs.values()) {
      if (list[0].job !== job.name) continue;
      for (const child of list.filter((x) => x.started && x.startAtMs !== null)) {
        const { shardRuns } = parentTick(parent, child.tickMs);
        const open = shardsOf(parent).filter((_, i) => !shardRuns[i].some((x) => x.ended && x.endAtMs !== null && x.endAtMs <= child.startAtMs!));
        if (open.length === 0) continue;
        r.childEarly++;
        const ends = shardRuns.flat().filter((x) => x.ended).map((x) => x.endAtMs ?? 0);
        violate({
          kind: 'early',
          job: job.name,
          tickMs: child.tickMs,
          host: child.host,
          detail: `run on ${child.host} (fence ${child.fence}, ${child.trigger}) started at ${child.startAtMs} before ${parent.name}'s tick ${child.tickMs} ended: ${parent.shards ? `shards ${open.join(', ')} had` : 'it had'} not written their end line (last end ${ends.length ? Math.max(...ends) : 'never'})`,
        });
      }
    }
  }

  // Fences grow with ticks: per unit (the job, per host for mode=all, per shard), over first runs; a rerun's fence is above its original's.
  const firstRuns = new Map<string, Run[]>();
  for (const list of runs.values()) {
    const started = list.filter((x) => x.started).sort((a, b) => a.fence - b.fence);
    if (started.length === 0) continue;
    const job = byName.get(started[0].job);
    const scope = job?.mode === 'all' ? `${started[0].job}@${started[0].host}` : job?.shards ? `${started[0].job}/${started[0].shard}` : started[0].job;
    const first = started.find((x) => x.trigger !== 'failover') ?? started[0];
    const l = firstRuns.get(scope) ?? [];
    l.push(first);
    firstRuns.set(scope, l);
  }
  for (const [scope, list] of firstRuns) {
    list.sort((a, b) => a.tickMs - b.tickMs);
    for (let i = 1; i < list.length; i++) {
      if (list[i].fence <= list[i - 1].fence) {
        r.fenceViolations++;
        violate({ kind: 'fence', job: list[i].job, tickMs: list[i].tickMs, detail: `${scope}: tick ${list[i].tickMs} has fence ${list[i].fence}, not above ${list[i - 1].fence} of tick ${list[i - 1].tickMs}` });
      }
    }
  }

  // Slots and groups: no moment over the limit, judged from the runs' start, end and gone lines.
  if (input.slotsPerHost || Object.keys(input.groups ?? {}).length > 0) {
    const untilMs = input.ledgerReadMs ?? input.ledger.reduce((m, e) => Math.max(m, (e.atMs ?? 0) - (input.clockOffsetsMs?.[e.host] ?? 0)), input.toMs);
    const c = checkConcurrency({ jobs: input.jobs, ledger: input.ledger, slotsPerHost: input.slotsPerHost, groups: input.groups, clockOffsetsMs: input.clockOffsetsMs, untilMs });
    Object.assign(r, { maxSlots: c.maxSlots, maxGroup: c.maxGroup, runsGone: c.endedByGone, runsEndUnknown: c.endUnknown });
    for (const o of c.over) {
      const last = o.alive[o.alive.length - 1];
      if (o.kind === 'slots') r.slotViolations++;
      else r.groupViolations++;
      const what = o.kind === 'slots' ? `host ${o.scope} had ${o.peak} slots in use (its --slots is ${o.limit})` : `group ${o.scope} had ${o.peak} runs alive (its limit is ${o.limit})`;
      const slotsOf = (job: string) => (o.kind === 'slots' ? (byName.get(job)?.slots ?? 1) : undefined);
      violate({
        kind: o.kind,
        job: last.job,
        tickMs: last.tickMs,
        host: last.host,
        shard: last.shard ?? undefined,
        detail: `${what} from ${o.atMs} (${new Date(o.atMs).toISOString()}), when this run started; alive then: ${o.alive.map((s) => describeSpan(s, slotsOf(s.job))).join('; ')}`,
      });
    }
  }

  r.ok = r.duplicated === 0 && r.unrecorded === 0 && r.overlaps === 0 && r.fenceViolations === 0 && r.childEarly === 0 && r.slotViolations === 0 && r.groupViolations === 0 && r.skippedAndRan === 0 && !r.violations.some((v) => ['unscheduled', 'shard', 'parent-tick'].includes(v.kind));
  return r;
}

interface Run {
  id: string;
  job: string;
  tickMs: number;
  host: string;
  fence: number;
  trigger: string;
  shard: number | null;
  started: boolean;
  ended: boolean;
  /** The wall clock of its start and end lines (null: a line of the 7-field form). */
  startAtMs: number | null;
  endAtMs: number | null;
}
