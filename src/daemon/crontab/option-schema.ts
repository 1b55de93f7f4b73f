/**
 * Every `#dcron` key, once: the kind of value it takes (with its bounds), the
 * field it sets, its default and the line the README shows for it. The
 * directive parser (directive-keys.ts) and the etcd record decoder
 * (job-record.ts) both go through this table, so a value that a crontab
 * accepts is a value a record may carry, and the other way round.
 */
import type { FailoverPolicy, JobOptions, OnLostPolicy, OverlapPolicy, RunMode } from './types.js';
import { MAX_TIMER_MS } from '../config/timer-limit.js';
import { absolutePath, byteSize, choice, duration, groupName, hostRequirements, httpUrl, jobName, jobNames, text, timeZone, wholeNumber, yesNo, type ValueKind } from './option-values.js';

/** Most slots one run may take: a host's --slots is at most a million. */
const MAX_SLOTS = 1_000_000;
/** Most shards one tick may fan out into: each is a claim and a process per tick. */
export const MAX_SHARDS = 1024;

/** Fields set on the job itself rather than in its options. */
export type JobField = 'name' | 'tz';

interface KeySpec<T> {
  /** As written in `#dcron key=value`. */
  key: string;
  kind: ValueKind<T>;
  /** One line for the README's option table. */
  description: string;
  /** How the README words a default that is not a value (null: the key's absence). */
  defaultText?: string;
}

/** A key that sets a field of JobOptions. */
export interface OptionKey<F extends keyof JobOptions = keyof JobOptions> extends KeySpec<NonNullable<JobOptions[F]>> {
  on: 'options';
  field: F;
  default: JobOptions[F];
}

/** `name` and `tz`: no default value, the reader derives one (a hash, CRON_TZ or the host's zone). */
export interface JobKey extends KeySpec<string> {
  on: 'job';
  field: JobField;
  default: null;
}

export type DirectiveKey = OptionKey | JobKey;

function option<F extends keyof JobOptions>(key: string, field: F, kind: ValueKind<NonNullable<JobOptions[F]>>, defaultValue: JobOptions[F], description: string, defaultText?: string): OptionKey {
  // Widened once here: the table holds keys of every field, each checked against its own above.
  return { on: 'options', key, field, kind, default: defaultValue, description, defaultText } as unknown as OptionKey;
}

/**
 * In the order of JobOptions' fields as records have always been written:
 * the default options object is built in this order, and sameDefinition's
 * quick comparison relies on parsed and decoded jobs having the same key order.
 * A new key goes last: the record decoder appends a field older records lack,
 * so their jobs keep the parsed order too.
 */
export const DIRECTIVE_KEYS: readonly DirectiveKey[] = Object.freeze([
  { on: 'job', key: 'name', field: 'name', kind: jobName, default: null, defaultText: 'hash of schedule and command', description: 'stable job id used by the CLI and run records' },
  { on: 'job', key: 'tz', field: 'tz', kind: timeZone, default: null, defaultText: "`CRON_TZ`, else the host's zone", description: 'IANA zone the schedule is computed in' },
  option('timeout', 'timeoutMs', duration(1, MAX_TIMER_MS), null, "kill the run's whole process group after this long", 'none'),
  option('overlap', 'overlap', choice<OverlapPolicy>(['skip', 'allow', 'queue', 'replace']), 'skip', 'when the previous tick still runs: `skip` (recorded), `allow`, `queue`, `replace`'),
  option('retries', 'retries', wholeNumber(0, 100), 0, 'extra attempts after a failed run'),
  option('retry-delay', 'retryDelayMs', duration(0, MAX_TIMER_MS), 10_000, 'backoff base: the n-th retry waits `retry-delay × 2^(n-1)`'),
  // Not a timer: only compared with how late a tick is, so any length is fine.
  option('catchup', 'catchupMs', duration(0, Number.MAX_SAFE_INTEGER), 0, 'a tick missed while the daemon was down still runs once if it is at most this old'),
  option('on-lost', 'onLost', choice<OnLostPolicy>(['kill', 'finish']), 'kill', 'on shutdown (or lease loss in a cluster) `kill` running jobs or let them `finish`'),
  option('failover', 'failover', choice<FailoverPolicy>(['none', 'rerun']), 'none', 'cluster: `rerun` a tick whose host died mid-run'),
  option('hosts', 'hosts', text, null, 'cluster: glob or label selector of eligible hosts', 'all'),
  option('mode', 'mode', choice<RunMode>(['once', 'all']), 'once', 'cluster: `all` runs the tick on every eligible host'),
  option('jitter', 'jitterMs', duration(0, MAX_TIMER_MS), 0, 'start each tick up to this much late (the same delay on every host)'),
  option('max-output', 'maxOutputBytes', byteSize, 1_048_576, 'output kept per run; the rest is dropped with a marker'),
  option('on-failure', 'onFailure', text, null, 'command run after a failed run, with its details in the environment', 'none'),
  option('on-failure-webhook', 'onFailureWebhook', httpUrl, null, 'http(s) URL POSTed a JSON report after a failed run (besides `--alert-webhook`)', 'none'),
  option('cwd', 'cwd', absolutePath, null, 'working directory of the command', "the crontab's directory"),
  option('slots', 'slots', wholeNumber(1, MAX_SLOTS), 1, 'slots one run takes on a host started with `--slots N`; a host without room passes the tick on'),
  option('shards', 'shards', wholeNumber(1, MAX_SHARDS), 1, 'split each tick into this many shard runs (`DCRON_SHARD` 0..N-1, `DCRON_SHARDS`), spread over the hosts'),
  option('after', 'after', jobNames, null, 'no schedule of its own: runs once each time every named job has finished a tick ok', 'none'),
  option('after-failure', 'afterFailure', jobNames, null, 'no schedule of its own: runs once each time one of the named jobs failed a tick', 'none'),
  option('group', 'group', groupName, null, 'concurrency group: at most K runs of its jobs at once cluster-wide, K from the daemons\' `--group NAME=K`; a tick with no room passes on like a full host\'s', 'none'),
  option('retry-elsewhere', 'retryElsewhere', yesNo, false, 'cluster: each retry runs on another host, the next in the tick\'s rendezvous order that has not tried it yet'),
  option('requires', 'requires', hostRequirements, null, 'what the host must have when it claims the tick, every term: free memory, 1-minute load, free disk of the data dir, e.g. `mem>=2GiB,load<4`; a host that falls short passes the tick on', 'none'),
] satisfies DirectiveKey[]);

const BY_KEY = new Map(DIRECTIVE_KEYS.map((k) => [k.key, k]));

export function directiveKey(key: string): DirectiveKey | undefined {
  return BY_KEY.get(key);
}

export const OPTION_KEYS: readonly OptionKey[] = DIRECTIVE_KEYS.filter((k): k is OptionKey => k.on === 'options');

/** The options of a job with no directives, frozen: copy it before changing a field. */
export const DEFAULT_OPTIONS: Readonly<JobOptions> = Object.freeze(Object.fromEntries(OPTION_KEYS.map((k) => [k.field, k.default])) as unknown as JobOptions);

/**
 * What is wrong with a stored value of `spec`'s field; null when a directive
 * could have set it. An option whose default is null may be stored as null
 * (the key was absent); `name` and `tz` are always stored resolved.
 */
export function storedValueProblem(spec: DirectiveKey, value: unknown): string | null {
  if (value === null && spec.on === 'options' && spec.default === null) return null;
  return spec.kind.check(value);
}
