/**
 * Judges one chaos scenario from the jobs' own ledger, not from dcron's
 * bookkeeping: which ticks were due (from the workload's periods), which
 * ran and how often, which overlapped, and whether fences grew with ticks.
 * dcron's run records are consulted only for the ticks that did not run,
 * to tell a tick recorded as missed or skipped from one lost without a trace.
 */
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
}

export interface Violation {
  kind: 'duplicate' | 'unrecorded' | 'overlap' | 'fence' | 'unscheduled';
  job: string;
  tickMs: number;
  host?: string;
  detail: string;
}

export interface CheckReport {
  /** Due (job, tick) pairs judged; mode=all counts one per host. */
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
  /** Claimed and recorded (lost, killed...) but the job never wrote its start line. */
  recordedNotStarted: number;
  unrecorded: number;
  overlaps: number;
  fenceViolations: number;
  /** Of the missed and skipped ticks, those outside every fault window (slack of a few seconds). */
  notRunOutsideFaults: number;
  /** The same counts per job: where a scenario's skipped or missed ticks went. */
  perJob: Record<string, { due: number; ran: number; missed: number; skipped: number; notStarted: number; unrecorded: number }>;
  violations: Violation[];
  ok: boolean;
}

const RUN_TRIGGERS = new Set(['schedule', 'catchup', 'failover']);
/** A fault's effects (lease expiry, catch-up) reach this far past its window. */
const FAULT_SLACK_MS = 15_000;

export function check(input: CheckInput): CheckReport {
  const r: CheckReport = { due: 0, ranOnce: 0, duplicated: 0, rerun: 0, rerunAfterFinish: 0, missedRecorded: 0, skippedRecorded: 0, recordedNotStarted: 0, unrecorded: 0, overlaps: 0, fenceViolations: 0, notRunOutsideFaults: 0, perJob: {}, violations: [], ok: true };
  const byName = new Map(input.jobs.map((j) => [j.name, j]));
  const churn = new Set(input.churnJobs ?? []);
  const violate = (v: Violation) => r.violations.push(v);
  const keyOf = (job: string, tickMs: number, host: string) => (byName.get(job)?.mode === 'all' ? `${job}@${tickMs}@${host}` : `${job}@${tickMs}`);

  // Runs of each tick (every host), as the ledger tells them.
  const runs = new Map<string, Run[]>();
  for (const e of input.ledger) {
    if (e.kind === 'overlap') {
      r.overlaps++;
      violate({ kind: 'overlap', job: e.job, tickMs: e.tickMs, host: e.host, detail: `tick ${e.tickMs} (${e.trigger}, fence ${e.fence}) started on ${e.host} while another run of the job held its lock` });
      continue;
    }
    if (!RUN_TRIGGERS.has(e.trigger)) continue;
    const key = `${keyOf(e.job, e.tickMs, e.host)}#${e.fence}`;
    let list = runs.get(keyOf(e.job, e.tickMs, e.host));
    if (!list) runs.set(keyOf(e.job, e.tickMs, e.host), (list = []));
    let run = list.find((x) => x.id === key);
    if (!run) list.push((run = { id: key, job: e.job, tickMs: e.tickMs, host: e.host, fence: e.fence, trigger: e.trigger, started: false, ended: false }));
    if (e.kind === 'start') run.started = true;
    else run.ended = true;
  }

  const recorded = new Map<string, RecordedRun[]>();
  for (const rec of input.records) {
    const k = keyOf(rec.job, rec.tickMs, rec.host);
    const list = recorded.get(k) ?? [];
    list.push(rec);
    recorded.set(k, list);
  }
  const inFault = (t: number, host?: string) => input.faults.some((f) => t >= f.startMs - FAULT_SLACK_MS && t <= f.endMs + FAULT_SLACK_MS && (host === undefined || f.hosts === undefined || f.hosts.includes(host)));

  // Every run: duplicates, reruns, unscheduled ticks.
  for (const [key, list] of runs) {
    const job = byName.get(list[0].job);
    const started = list.filter((x) => x.started).sort((a, b) => a.fence - b.fence);
    if (job && list[0].tickMs % (job.periodS * 1000) !== 0) {
      violate({ kind: 'unscheduled', job: job.name, tickMs: list[0].tickMs, detail: `ran a tick that is not on the job's schedule (every ${job.periodS} s)` });
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
    violate({ kind: 'duplicate', job: list[0].job, tickMs: list[0].tickMs, detail: `${key} ran ${started.length} times: ${started.map((x) => `${x.host} fence ${x.fence} (${x.trigger}${x.ended ? ', finished' : ''})`).join('; ')}` });
  }

  // Every due tick of every core job: ran once, or why not.
  for (const job of input.jobs) {
    if (churn.has(job.name)) continue;
    const period = job.periodS * 1000;
    const hosts = job.mode === 'all' ? input.hosts : [null];
    const mine = (r.perJob[job.name] = { due: 0, ran: 0, missed: 0, skipped: 0, notStarted: 0, unrecorded: 0 });
    const lead = Math.max(0, ...Object.values(input.clockOffsetsMs ?? {}));
    for (let t = Math.ceil((input.fromMs + lead) / period) * period; t <= input.toMs; t += period) {
      for (const host of hosts) {
        const offset = host === null ? 0 : (input.clockOffsetsMs?.[host] ?? 0);
        if (t < input.fromMs + Math.max(0, offset) || t > input.toMs + Math.min(0, offset)) continue;
        r.due++;
        mine.due++;
        const key = host === null ? `${job.name}@${t}` : `${job.name}@${t}@${host}`;
        if (runs.get(key)?.some((x) => x.started)) {
          r.ranOnce++;
          mine.ran++;
          continue;
        }
        const recs = recorded.get(key) ?? [];
        if (recs.some((x) => x.status === 'missed')) (r.missedRecorded++, mine.missed++);
        else if (recs.some((x) => x.status === 'skipped')) (r.skippedRecorded++, mine.skipped++);
        else if (recs.length > 0) (r.recordedNotStarted++, mine.notStarted++);
        else {
          r.unrecorded++;
          mine.unrecorded++;
          violate({ kind: 'unrecorded', job: job.name, tickMs: t, host: host ?? undefined, detail: `due ${new Date(t).toISOString()}${host ? ` on ${host}` : ''}: no run, and no host recorded it` });
          continue;
        }
        // overlap=skip skips are the policy at work whenever a run lasts longer than the period.
        const expectedSkip = job.overlap === 'skip' && job.runS >= job.periodS && recs.some((x) => x.status === 'skipped');
        if (!expectedSkip && !inFault(t)) r.notRunOutsideFaults++;
      }
    }
  }

  // Fences grow with ticks: per job (per host for mode=all), over first runs; a rerun's fence is above its original's.
  const firstRuns = new Map<string, Run[]>();
  for (const list of runs.values()) {
    const started = list.filter((x) => x.started).sort((a, b) => a.fence - b.fence);
    if (started.length === 0) continue;
    const scope = byName.get(started[0].job)?.mode === 'all' ? `${started[0].job}@${started[0].host}` : started[0].job;
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

  r.ok = r.duplicated === 0 && r.unrecorded === 0 && r.overlaps === 0 && r.fenceViolations === 0 && !r.violations.some((v) => v.kind === 'unscheduled');
  return r;
}

interface Run {
  id: string;
  job: string;
  tickMs: number;
  host: string;
  fence: number;
  trigger: string;
  started: boolean;
  ended: boolean;
}
