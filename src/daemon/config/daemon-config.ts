/**
 * The daemon's numeric settings, once: default, bounds, and the flag (and
 * config-file key) that sets each. The config file and the command line read
 * flag text through this table, and the Daemon fills in what it was not given
 * with withDaemonDefaults, so a default or a bound cannot differ between them.
 */
import { formatDuration, parseDuration } from '../duration.js';
import { parseSize } from '../crontab/size.js';
import { DcronError } from '../errors.js';
import { bad, ok, type ReadOutcome } from '../crontab/option-values.js';
import { MAX_TIMER_MS } from './timer-limit.js';

export interface DaemonSettings {
  /** A tick started later than this while the daemon runs still counts as on time. */
  lateGraceMs: number;
  /** Ticks are claimed and recorded this long before they are due. */
  claimLeadMs: number;
  /** SIGTERM: how long running jobs may finish before on-lost applies. */
  drainGraceMs: number;
  /** A killed job's process group gets SIGKILL this long after SIGTERM. */
  killGraceMs: number;
  keepRunsPerJob: number;
  maxLogBytes: number;
  /** Cluster: the etcd lease TTL. */
  leaseTtlSeconds: number;
  /** Cluster: delay per rank before a non-preferred host claims a tick. */
  handicapMs: number;
  /** Most slots the runs on this host may take at once (a job's `slots=`, 1 by default); 0: no limit. */
  slots: number;
}

/** A setting given out of bounds; `setting` is the flag (`--claim-lead`) or the field name. */
export class InvalidDaemonSettingError extends DcronError {
  constructor(
    readonly setting: string,
    readonly problem: string,
  ) {
    super(`${setting}: ${problem}`);
  }
}

/** How flag text reads as a setting's value, and its bounds. */
interface SettingKind {
  read(text: string): ReadOutcome<number>;
  /** Flag text that reads back as `value`. */
  write(value: number): string;
  min: number;
  max: number;
}

/** `value` when within the kind's bounds (NaN never is), else `problem`. */
function inBounds(kind: { min: number; max: number }, value: number, problem: string): ReadOutcome<number> {
  return value >= kind.min && value <= kind.max ? ok(value) : bad(problem);
}

function durationMs(max: number): SettingKind {
  const kind: SettingKind = {
    min: 0,
    max,
    read(text) {
      const ms = parseDuration(text);
      if (ms === null) return bad(`'${text}' is not a duration (e.g. 30s, 5m, 1h30m)`);
      return inBounds(kind, ms, `'${text}': a duration up to ${formatDuration(max)}`);
    },
    write: formatDuration,
  };
  return kind;
}

/** etcd lease TTLs are whole seconds; under 2 s a single slow keepalive loses the lease. */
const leaseSeconds: SettingKind = {
  min: 2,
  max: MAX_TIMER_MS / 1000,
  read(text) {
    const ms = parseDuration(text);
    const seconds = ms !== null && ms % 1000 === 0 ? ms / 1000 : NaN;
    return inBounds(leaseSeconds, seconds, `'${text}': whole seconds, at least 2s`);
  },
  write: (seconds) => formatDuration(seconds * 1000),
};

const positiveCount: SettingKind = {
  min: 1,
  max: Number.MAX_SAFE_INTEGER,
  read: (text) => inBounds(positiveCount, /^\d+$/.test(text) ? Number(text) : NaN, `'${text}' is not a positive whole number`),
  write: String,
};

/** `unlimited` (0) or a whole number of slots. */
const slotCount: SettingKind = {
  min: 0,
  max: 1_000_000,
  read: (text) => (text === 'unlimited' ? ok(0) : inBounds(slotCount, /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : NaN, `'${text}' is not a whole number of slots from 1 to ${slotCount.max}, or 'unlimited'`)),
  write: (value) => (value === 0 ? 'unlimited' : String(value)),
};

const bytes: SettingKind = {
  min: 0,
  max: Number.MAX_SAFE_INTEGER,
  read: (text) => inBounds(bytes, parseSize(text) ?? NaN, `'${text}' is not a size (e.g. 512MiB, 2GB)`),
  write: String,
};

export interface DaemonSetting {
  field: keyof DaemonSettings;
  /** The daemon flag and config-file key; null for a setting only code sets. */
  flag: string | null;
  kind: SettingKind;
  default: number;
}

export const DAEMON_SETTINGS: readonly DaemonSetting[] = Object.freeze([
  { field: 'lateGraceMs', flag: null, kind: durationMs(MAX_TIMER_MS), default: 5000 },
  /*
   * 100 ms, the CLI's value: the claim (an etcd round trip in a cluster) and
   * the bookkeeping of a burst of jobs are done when the tick comes, so the job
   * starts on time. The Daemon class used to default to 0 for in-process
   * tests; none construct it today, and one that needs 0 can say so.
   * At most 5 s, as the CLI always allowed: a tick claimed this early is held
   * by this host until it is due, and recorded but not run if the daemon dies meanwhile.
   */
  { field: 'claimLeadMs', flag: 'claim-lead', kind: durationMs(5000), default: 100 },
  { field: 'drainGraceMs', flag: 'drain-grace', kind: durationMs(MAX_TIMER_MS), default: 30_000 },
  { field: 'killGraceMs', flag: null, kind: durationMs(MAX_TIMER_MS), default: 5000 },
  { field: 'keepRunsPerJob', flag: 'keep-runs', kind: positiveCount, default: 1000 },
  { field: 'maxLogBytes', flag: 'max-log-size', kind: bytes, default: 1024 ** 3 },
  { field: 'leaseTtlSeconds', flag: 'lease-ttl', kind: leaseSeconds, default: 10 },
  { field: 'handicapMs', flag: 'claim-handicap', kind: durationMs(MAX_TIMER_MS), default: 200 },
  { field: 'slots', flag: 'slots', kind: slotCount, default: 0 },
] satisfies DaemonSetting[]);

const BY_FLAG = new Map(DAEMON_SETTINGS.filter((s) => s.flag !== null).map((s) => [s.flag!, s]));

/** The setting a flag sets, if it is one of these. */
export function settingOfFlag(flag: string): DaemonSetting | undefined {
  return BY_FLAG.get(flag);
}

/**
 * Every setting resolved: the given ones checked against their bounds, the
 * rest at their defaults. Throws InvalidDaemonSettingError naming the field.
 */
export function withDaemonDefaults(partial: Partial<DaemonSettings>): DaemonSettings {
  const resolved = {} as DaemonSettings;
  for (const setting of DAEMON_SETTINGS) {
    const value = partial[setting.field] ?? setting.default;
    const { min, max } = setting.kind;
    if (!Number.isInteger(value) || value < min || value > max) throw new InvalidDaemonSettingError(setting.field, `${value} is not an integer in ${min}-${max}`);
    resolved[setting.field] = value;
  }
  return resolved;
}

/**
 * The settings that flags set, read from their text (a flag left out keeps
 * its default). Throws InvalidDaemonSettingError naming the flag.
 */
export function settingsFromFlags(text: (flag: string) => string | undefined): DaemonSettings {
  const given: Partial<DaemonSettings> = {};
  for (const [flag, setting] of BY_FLAG) {
    const value = text(flag);
    if (value === undefined) continue;
    const read = setting.kind.read(value);
    if (!read.ok) throw new InvalidDaemonSettingError(`--${flag}`, read.message);
    given[setting.field] = read.value;
  }
  return withDaemonDefaults(given);
}

/** Every setting at its default, for parts built without a daemon around them (tests, the executor alone). */
export const DAEMON_DEFAULTS: Readonly<DaemonSettings> = Object.freeze(withDaemonDefaults({}));
