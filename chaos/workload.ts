/**
 * The chaos workload: jobs firing every few seconds whose runs record
 * themselves in a ledger, outside dcron. Each run appends a `start` line
 * when it begins and an `end` line when it finishes, each with the shard
 * (sharded jobs), the parent tick (dependent jobs) and the wall-clock time
 * in ms (so a child's start can be compared with its parents' ends); an overlap=skip job
 * also takes a non-blocking flock, so two runs of it at once write an
 * `overlap` line whichever hosts they ran on. The kernel drops the lock
 * when its holders die, even by SIGKILL, so a dead run never looks alive.
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
}

/** The jobs of every scenario: short and long, skip and allow, mode=all, failover=rerun. */
export const CORE_JOBS: readonly WorkloadJob[] = [
  ...Array.from({ length: 6 }, (_, i): WorkloadJob => ({ name: `quick-${i}`, periodS: 1, runS: 0, overlap: 'skip', mode: 'one', failover: false })),
  { name: 'slow-skip', periodS: 1, runS: 4.5, overlap: 'skip', mode: 'one', failover: false },
  { name: 'slow-allow', periodS: 1, runS: 2.5, overlap: 'allow', mode: 'one', failover: false },
  { name: 'wide', periodS: 1, runS: 0, overlap: 'skip', mode: 'all', failover: false },
  { name: 'wide-slow', periodS: 2, runS: 3, overlap: 'skip', mode: 'all', failover: false },
  { name: 'rerun', periodS: 3, runS: 2, overlap: 'skip', mode: 'one', failover: true },
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
  // mode=all keeps overlap per host, so its lock is per host too; a shard's overlap is its own.
  const lock = job.overlap === 'allow' ? 'none' : job.mode === 'all' ? `${job.name}.$DCRON_HOST` : job.shards ? `${job.name}.$DCRON_SHARD` : job.name;
  const schedule = job.after ? '@after' : `${job.periodS === 1 ? '*' : `*/${job.periodS}`} * * * * *`;
  return [`#dcron ${directives.join(' ')}`, `${schedule} ${files.script} ${files.ledger} ${files.locks} ${job.runS} ${lock}`];
}

export function crontabText(files: WorkloadFiles, jobs: readonly WorkloadJob[], extra: string[] = []): string {
  return ['# dcron chaos workload (generated)', 'SHELL=/bin/sh', ...jobs.flatMap((j) => jobLines(files, j)), ...extra, ''].join('\n');
}
