/**
 * What a job's schedule is, as the parser produced it: cron fields expanded
 * to their values, or a fixed rate, a fixed delay, or @reboot.
 */

/** One field of a cron expression, expanded to the values it allows. */
export interface CronField {
  /** The field's text as written, e.g. `*\/15` or `mon-fri`. */
  text: string;
  /** True when the text starts with `*` or `?` (Vixie's DOM_STAR / DOW_STAR). */
  star: boolean;
  /** Allowed values, ascending, without duplicates. For dow, Sunday is 0 (7 folds to 0). */
  values: number[];
}

/** Day-of-month field: plain values plus `L` (last day of the month). */
export interface DomField extends CronField {
  last: boolean;
}

/** Day-of-week field: plain values plus `5L` (last Friday) and `1#2` (second Monday). */
export interface DowField extends CronField {
  /** Weekdays (0-6) whose last occurrence in the month matches (`5L`). */
  lastOf: number[];
  /** [weekday 0-6, nth 1-5] pairs (`1#2`). */
  nth: Array<[number, number]>;
}

export interface CronFields {
  /** Seconds field; `[0]` with text `0` for five-field lines. */
  second: CronField;
  minute: CronField;
  hour: CronField;
  dom: DomField;
  month: CronField;
  dow: DowField;
  /** True when the line had six fields (seconds first). */
  hasSeconds: boolean;
}

export type ScheduleSpec =
  | { kind: 'cron'; fields: CronFields }
  /** Fixed rate, ticks aligned to the Unix epoch. */
  | { kind: 'every'; intervalMs: number }
  /** Fixed delay: next tick `delayMs` after the previous run ended. */
  | { kind: 'delay'; delayMs: number }
  /** Once per daemon start, on that host. */
  | { kind: 'reboot' }
  /** `@after`: no schedule of its own; the job runs after others (`after=`, `after-failure=`). */
  | { kind: 'after' };
