/**
 * The chaos workload: jobs firing every few seconds whose runs record
 * themselves in a ledger, outside dcron. Each run appends a `start` line
 * when it begins and an `end` line when it finishes, each with the shard
 * (sharded jobs), the parent tick (dependent jobs) and the wall-clock time
 * in ms (so a child's start can be compared with its parents' ends); an overlap=skip job
 * also takes a non-blocking flock, so two runs of it at once write an
 * `overlap` line whichever hosts they ran on. The kernel drops the lock
 * when its holders die, even by SIGKILL, so a dead run never looks alive.
 *
 * Every run also holds a lock of its own, watched from outside its process
 * group: when the run's last process is gone, ended or killed, the watcher
 * writes a `gone` line, so a run killed before its end line (its daemon
 * killed, its lease lost) still has an end time, for the slot and group checks.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WorkloadJob {
  name: string;
  /** Seconds between ticks; divides 60, so the schedule is `*\/period` in the seconds field. A dependent job's is its parent's. */
  periodS: number;
  /** How long each run takes. */
  runS: number;
  overlap: 'skip' | 'allow';
  mode: 'one' | 'all';
  failover: boolean;
  /** `shards=N`: each tick is N shard runs. */
  shards?: number;
  /** `after=PARENT`: no schedule of its own (`@after`), one run per parent tick that ended ok. */
  after?: string;
  /** `jitter=`, in ms: a dependent job's claim waits this long (at most) before its start, a window to kill it in. */
  jitterMs?: number;
  /** `slots=K` of the host's `--slots` (default 1: every run takes one). */
  slots?: number;
  /** `group=NAME`: at most the daemons' `--group NAME=K` runs of the group at once, cluster-wide. */
  group?: string;
}

/** The daemons' `--group NAME=K` in every scenario. */
export const GROUP_LIMITS: Readonly<Record<string, number>> = { chaos: 2 };
/** Every daemon's `--slots` with CORE_JOBS: their runs take about 11 of the 15 on average, more at each second's ticks, so hosts fill at times. */
export const CORE_SLOTS = 5;
/** And with DAG_JOBS: a tick's 12 shards at once are more than the three hosts have room for. */
export const DAG_SLOTS = 4;

/**
 * Jobs that need room (the daemons run with `--slots` and `--group chaos=2`):
 * three of group `chaos` wanting about four permits at once between them
 * (`group-allow` alone three: 6 s runs, longer than the late grace, every
 * 2 s), so the group is full most of the time and ticks wait for a permit,
 * pass on or are recorded skipped; and one taking two slots, which needs a
 * host with room for both. All keep failover=none and on-lost=kill: a run
 * that lost its lease dies (the job guard) before its permit can go to
 * another host. Every job takes slots (1 by default), so with these the
 * workload wants about as many as the hosts have.
 */
const ROOM_JOBS: readonly WorkloadJob[] = [
  { name: 'group-allow', periodS: 2, runS: 6, overlap: 'allow', mode: 'one', failover: false, group: 'chaos' },
  { name: 'group-skip-0', periodS: 3, runS: 2, overlap: 'skip', mode: 'one', failover: false, group: 'chaos' },
  { name: 'group-skip-1', periodS: 2, runS: 2.5, overlap: 'skip', mode: 'one', failover: false, group: 'chaos' },
  { name: 'fat', periodS: 2, runS: 1.5, overlap: 'skip', mode: 'one', failover: false, slots: 2 },
];

/** The jobs of every scenario: short and long, skip and allow, mode=all, failover=rerun, a group and a two-slot job. */
export const CORE_JOBS: readonly WorkloadJob[] = [
  ...Array.from({ length: 6 }, (_, i): WorkloadJob => ({ name: `quick-${i}`, periodS: 1, runS: 0, overlap: 'skip', mode: 'one', failover: false })),
  { name: 'slow-skip', periodS: 1, runS: 4.5, overlap: 'skip', mode: 'one', failover: false },
  { name: 'slow-allow', periodS: 1, runS: 2.5, overlap: 'allow', mode: 'one', failover: false },
  { name: 'wide', periodS: 1, runS: 0, overlap: 'skip', mode: 'all', failover: false },
  { name: 'wide-slow', periodS: 2, runS: 3, overlap: 'skip', mode: 'all', failover: false },
  { name: 'rerun', periodS: 3, runS: 2, overlap: 'skip', mode: 'one', failover: true },
  ...ROOM_JOBS,
];

/**
 * Sharded parents and their dependent children (the `shards` and `dependency`
 * scenarios): a shard runs 1 s of every 2, so a kill always finds some
 * running; `child-rerun` and `child-none` wait a jitter (up to 1 s) between
 * their claim and their start, so a kill can land between the claim and the
 * start; `child-plain` starts at once, so a kill lands before its claim or after its spawn.
 */
export const DAG_JOBS: readonly WorkloadJob[] = [
  { name: 'shard-rerun', periodS: 2, runS: 1, overlap: 'skip', mode: 'one', failover: true, shards: 8 },
  { name: 'shard-none', periodS: 2, runS: 0.5, overlap: 'skip', mode: 'one', failover: false, shards: 4 },
  { name: 'parent-plain', periodS: 2, runS: 0.5, overlap: 'skip', mode: 'one', failover: false },
  { name: 'child-rerun', periodS: 2, runS: 0.3, overlap: 'skip', mode: 'one', failover: true, after: 'shard-rerun', jitterMs: 1000 },
  { name: 'child-none', periodS: 2, runS: 0.3, overlap: 'skip', mode: 'one', failover: false, after: 'shard-none', jitterMs: 1000 },
  { name: 'child-plain', periodS: 2, runS: 0, overlap: 'skip', mode: 'one', failover: false, after: 'parent-plain' },
];

export interface WorkloadFiles {
  dir: string;
  crontab: string;
  ledger: string;
  locks: string;
  script: string;
}

/** The job script: arguments are the ledger, the lock directory, the run time and whether to lock. */
const JOB_SCRIPT = `#!/bin/sh
ledger=$1 locks=$2 secs=$3 lock=$4
id="$DCRON_JOB $DCRON_TICK_MS $DCRON_HOST $DCRON_FENCE $DCRON_ATTEMPT $DCRON_TRIGGER \${DCRON_SHARD:--} \${DCRON_SHARDS:--} \${DCRON_PARENT_TICK:--}"
# The run's own lock on fd 8, inherited by sleep: held while any process of the run lives. A watcher in a session
# of its own (out of reach of the kill of the run's process group, its stdio not the run's output) waits for it and
# writes the gone line; the start line waits until the watcher is in place.
run="$locks/run.$DCRON_JOB.$DCRON_TICK_MS.\${DCRON_SHARD:--}.$DCRON_HOST.$DCRON_FENCE.$DCRON_ATTEMPT"
exec 8>"$run.lock"
flock 8
setsid sh -c ': > "$1.ready"; flock "$1.lock" true; echo "gone $2 $(date +%s%3N)" >> "$3"; rm -f "$1.lock" "$1.ready"' watch "$run" "$id" "$ledger" </dev/null >/dev/null 2>&1 8>&- &
until [ -e "$run.ready" ]; do sleep 0.005; done
echo "start $id $(date +%s%3N)" >> "$ledger"
work() { if [ "$secs" != 0 ]; then sleep "$secs"; fi; echo "end $id $(date +%s%3N)" >> "$ledger"; }
if [ "$lock" = none ]; then work; exit 0; fi
# fd 9 is inherited by sleep: a run's lock lasts as long as any process of it lives.
exec 9>>"$locks/$lock.lock"
if flock -n 9; then work; else echo "overlap $id $(date +%s%3N)" >> "$ledger"; work; fi
`;

export function writeWorkload(dir: string, jobs: readonly WorkloadJob[] = CORE_JOBS): WorkloadFiles {
  mkdirSync(dir, { recursive: true });
  const files: WorkloadFiles = { dir, crontab: join(dir, 'crontab'), ledger: join(dir, 'ledger'), locks: join(dir, 'locks'), script: join(dir, 'job.sh') };
  mkdirSync(files.locks, { recursive: true });
  writeFileSync(files.script, JOB_SCRIPT);
  chmodSync(files.script, 0o755);
  writeFileSync(files.ledger, '');
  writeFileSync(files.crontab, crontabText(files, jobs));
  return files;
}

/** One job's two crontab lines. */
export function jobLines(files: WorkloadFiles, job: WorkloadJob): string[] {
  const directives = [`name=${job.name}`, `overlap=${job.overlap}`];
  if (job.mode === 'all') directives.push('mode=all');
  if (job.failover) directives.push('failover=rerun');
  if (job.shards) directives.push(`shards=${job.shards}`);
  if (job.after) directives.push(`after=${job.after}`);
  if (job.jitterMs) directives.push(`jitter=${job.jitterMs}ms`);
  if (job.slots !== undefined && job.slots !== 1) directives.push(`slots=${job.slots}`);
  if (job.group) directives.push(`group=${job.group}`);
  // mode=all keeps overlap per host, so its lock is per host too; a shard's overlap is its own.
  const lock = job.overlap === 'allow' ? 'none' : job.mode === 'all' ? `${job.name}.$DCRON_HOST` : job.shards ? `${job.name}.$DCRON_SHARD` : job.name;
  const schedule = job.after ? '@after' : `${job.periodS === 1 ? '*' : `*/${job.periodS}`} * * * * *`;
  return [`#dcron ${directives.join(' ')}`, `${schedule} ${files.script} ${files.ledger} ${files.locks} ${job.runS} ${lock}`];
}

export function crontabText(files: WorkloadFiles, jobs: readonly WorkloadJob[], extra: string[] = []): string {
  return ['# dcron chaos workload (generated)', 'SHELL=/bin/sh', ...jobs.flatMap((j) => jobLines(files, j)), ...extra, ''].join('\n');
}
