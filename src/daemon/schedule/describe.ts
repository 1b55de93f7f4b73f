/**
 * A schedule in a few words for `dcron ls`: "every 5 minutes", "at 02:30
 * every day", "at 09:00 on Mon-Fri". Only shapes that can be said briefly
 * and exactly get a phrase; anything else is shown as written.
 */
import type { CronField, CronFields, ScheduleSpec } from './spec.js';
import { formatDuration } from '../duration.js';

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['', 'Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** More wall times than this read worse than the expression itself. */
const MAX_LISTED_TIMES = 4;

/**
 * `tz` is named in phrases that depend on the wall clock ("at 02:30 every
 * day (Europe/Berlin)") unless it is UTC: hosts of one cluster may sit in
 * different zones, and the job runs in its own.
 */
export function describeSchedule(scheduleText: string, spec: ScheduleSpec, tz: string): string {
  switch (spec.kind) {
    case 'reboot':
      return 'at daemon start';
    case 'after':
      return 'after other jobs';
    case 'every':
      return `every ${formatDuration(spec.intervalMs)}`;
    case 'delay':
      return `${formatDuration(spec.delayMs)} after each run`;
    case 'cron': {
      const phrase = describeCron(spec.fields);
      if (phrase === null) return scheduleText;
      return phrase.wallClock && !isUtc(tz) ? `${phrase.text} (${tz})` : phrase.text;
    }
  }
}

function isUtc(tz: string): boolean {
  return tz === 'UTC' || tz === 'Etc/UTC';
}

interface Phrase {
  text: string;
  /** Whether the phrase names local times or days, which only mean something in a zone. */
  wallClock: boolean;
}

function describeCron(fields: CronFields): Phrase | null {
  const days = dayPhrase(fields);
  if (days === null) return null;
  const every = frequencyPhrase(fields);
  if (every !== null) {
    const text = [every, days.on, days.within].filter((part) => part !== '').join(' ');
    // "every 6 hours" runs at 00:00, 06:00, ... of the zone; "every 5 minutes" is the same anywhere.
    return { text, wallClock: text !== every || !covers(fields.hour, 24) };
  }
  const times = wallTimes(fields);
  if (times === null) return null;
  const text = [`at ${times}`, days.on === '' ? 'every day' : days.on, days.within].filter((part) => part !== '').join(' ');
  return { text, wallClock: true };
}

/** "every 5 minutes", "every hour at :15"; null when the time fields are not a plain rate. */
function frequencyPhrase(f: CronFields): string | null {
  const hourly = covers(f.hour, 24);
  if (covers(f.second, 60) && covers(f.minute, 60) && hourly) return 'every second';
  const secondStep = stepOf(f.second, 60);
  if (secondStep !== null && covers(f.minute, 60) && hourly) return `every ${secondStep} seconds`;
  if (!isSingle(f.second, 0)) return null;
  if (covers(f.minute, 60) && hourly) return 'every minute';
  const minuteStep = stepOf(f.minute, 60);
  if (minuteStep !== null && hourly) return `every ${minuteStep} minutes`;
  if (f.minute.values.length !== 1) return null;
  const past = f.minute.values[0] === 0 ? '' : ` at :${pad(f.minute.values[0])}`;
  if (hourly) return `every hour${past}`;
  const hourStep = stepOf(f.hour, 24);
  return hourStep === null ? null : `every ${hourStep} hours${past}`;
}

/** "09:00", "09:00, 17:30" for at most a few times of day. */
function wallTimes(f: CronFields): string | null {
  const count = f.hour.values.length * f.minute.values.length * f.second.values.length;
  if (count === 0 || count > MAX_LISTED_TIMES) return null;
  const times: string[] = [];
  for (const h of f.hour.values) {
    for (const m of f.minute.values) {
      for (const s of f.second.values) times.push(s === 0 ? `${pad(h)}:${pad(m)}` : `${pad(h)}:${pad(m)}:${pad(s)}`);
    }
  }
  return times.join(', ');
}

/** Which days: `on` ("on Mon-Fri", "on day 1 of the month", "on Jan 1"; '' for all) and `within` ("in Jan-Mar"); null when too intricate to say. */
function dayPhrase(f: CronFields): { on: string; within: string } | null {
  const within = covers(f.month, 12) ? '' : `in ${nameList(f.month.values, MONTH_NAMES)}`;
  const allDom = covers(f.dom, 31) && !f.dom.last;
  const dowSpecials = f.dow.lastOf.length > 0 || f.dow.nth.length > 0;
  const allDow = covers(f.dow, 7) && !dowSpecials;
  if (allDom && allDow) return { on: '', within };
  if (allDom && !dowSpecials) return { on: `on ${nameList(f.dow.values, DAY_NAMES)}`, within };
  // Both day fields restricted means either matches (Vixie): not something to paraphrase.
  if (!allDow) return null;
  if (f.dom.last) return f.dom.values.length === 0 ? { on: 'on the last day of the month', within } : null;
  const dates = f.dom.values.join(', ');
  if (f.month.values.length === 1) return { on: `on ${MONTH_NAMES[f.month.values[0]]} ${dates}`, within: '' };
  return { on: `on day${f.dom.values.length > 1 ? 's' : ''} ${dates} of the month`, within };
}

function covers(field: CronField, size: number): boolean {
  return field.values.length === size;
}

function isSingle(field: CronField, value: number): boolean {
  return field.values.length === 1 && field.values[0] === value;
}

/** N for `*\/N` when N divides the field evenly, so the rate really is constant. */
function stepOf(field: CronField, size: number): number | null {
  const match = /^\*\/(\d+)$/.exec(field.text);
  if (match === null) return null;
  const step = Number(match[1]);
  return step > 1 && size % step === 0 ? step : null;
}

/** Names of ascending values, runs of three or more as ranges: "Mon-Fri", "Jan, Jul". */
function nameList(values: readonly number[], names: readonly string[]): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j] + 1) j++;
    if (j - i >= 2) parts.push(`${names[values[i]]}-${names[values[j]]}`);
    else for (let k = i; k <= j; k++) parts.push(names[values[k]]);
    i = j + 1;
  }
  return parts.join(', ');
}

const pad = (n: number) => String(n).padStart(2, '0');
