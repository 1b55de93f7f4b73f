/**
 * Cron expression fields: `sec? min hour dom month dow`, each expanded to the
 * values it allows, with the exact position of anything invalid.
 */
import type { CronField, CronFields, DowField } from './types.js';
import { columnAt, detach, isProblem, sliceWord, splitWord, splitWords, type Problem, type Word } from './text.js';

type FieldName = 'second' | 'minute' | 'hour' | 'dom' | 'month' | 'dow';

interface FieldSpec {
  name: FieldName;
  /** How messages call the field. */
  label: string;
  min: number;
  max: number;
  /** Where `*` and `N/step` stop: 6 for dow, whose 7 exists only as another Sunday. */
  openMax: number;
  /** Three-letter names, the first worth `min` (jan=1, sun=0). */
  names?: readonly string[];
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const SPECS: Record<FieldName, FieldSpec> = {
  second: { name: 'second', label: 'second', min: 0, max: 59, openMax: 59 },
  minute: { name: 'minute', label: 'minute', min: 0, max: 59, openMax: 59 },
  hour: { name: 'hour', label: 'hour', min: 0, max: 23, openMax: 23 },
  dom: { name: 'dom', label: 'day-of-month', min: 1, max: 31, openMax: 31 },
  month: { name: 'month', label: 'month', min: 1, max: 12, openMax: 12, names: MONTH_NAMES },
  dow: { name: 'dow', label: 'day-of-week', min: 0, max: 7, openMax: 6, names: DAY_NAMES },
};

const FIVE_FIELDS: readonly FieldName[] = ['minute', 'hour', 'dom', 'month', 'dow'];
const SIX_FIELDS: readonly FieldName[] = ['second', ...FIVE_FIELDS];

/** What a five-field line runs at: second 0 of the minute (shared and frozen, like every parsed field). */
const ZERO_SECOND: CronField = Object.freeze({ text: '0', star: false, values: Object.freeze([0]) as number[] });

/** Everything one field can hold; each field type takes the parts it has. */
interface ParsedField {
  text: string;
  star: boolean;
  values: Set<number>;
  last: boolean;
  lastOf: Set<number>;
  nth: Array<[number, number]>;
}

export type CronExpressionResult =
  | { ok: true; fields: CronFields }
  | { ok: false; column: number; message: string; text: string };

/** Parse a whole five- or six-field expression, e.g. `*\/15 9-17 * * mon-fri`. */
export function parseCronExpression(text: string): CronExpressionResult {
  const parsed = parseCronWords(splitWords(text), text);
  if (isProblem(parsed)) {
    return { ok: false, column: columnAt(text, parsed.index), message: parsed.message, text: parsed.text };
  }
  return { ok: true, fields: parsed };
}

/** The words of `text`, which must be exactly one expression: five or six fields, nothing else. */
export function parseCronWords(words: readonly Word[], text: string): CronFields | Problem {
  if (words.length === 5 || words.length === 6) return parseFieldWords(words);
  const message = `expected 5 or 6 fields, got ${words.length}`;
  if (words.length > 6) return { index: words[6].index, message, text: words[6].text };
  return { index: words[0]?.index ?? 0, message, text: text.trim() };
}

/**
 * Parse five words as `min hour dom month dow` or six as `sec min hour dom
 * month dow`. Problem offsets are those of the words, so callers can locate
 * them in whatever line the words came from.
 */
export function parseFieldWords(words: readonly Word[]): CronFields | Problem {
  const hasSeconds = words.length === 6;
  const names = hasSeconds ? SIX_FIELDS : FIVE_FIELDS;
  const out: Partial<Record<FieldName, CronField | DomField | DowField>> = {};
  for (let i = 0; i < names.length; i++) {
    const field = cachedField(names[i], words[i]);
    if (isProblem(field)) return field;
    out[names[i]] = field;
  }
  return {
    second: hasSeconds ? out.second! : ZERO_SECOND,
    minute: out.minute!,
    hour: out.hour!,
    dom: out.dom as DomField,
    month: out.month!,
    dow: out.dow as DowField,
    hasSeconds,
  };
}

type DomField = CronFields['dom'];

/**
 * Parsed fields by field name and text. A large crontab repeats the same
 * field texts over and over (`0`, `*`, `1-5`, ...): parsing each text once
 * was most of the parse time of a 100,000-line file (bench/scale.ts), and
 * sharing the result keeps one copy of its value arrays instead of one per
 * job. The cached objects are frozen, as they are shared between jobs.
 * Only valid fields are cached: a problem carries its word's position.
 * Cleared when it grows past FIELD_CACHE_MAX, so a file of distinct lists
 * cannot grow it without bound.
 */
/**
 * Invalid texts are cached too, with the problem's offset relative to the
 * word: every five-field job line is first tried as six fields, which makes
 * its command's first word a day-of-week field, and fails the same way on
 * every line that runs the same program.
 */
type CachedField = CronField | DomField | DowField | Problem;

const fieldCaches: Record<FieldName, Map<string, CachedField>> = {
  second: new Map(),
  minute: new Map(),
  hour: new Map(),
  dom: new Map(),
  month: new Map(),
  dow: new Map(),
};
const FIELD_CACHE_MAX = 20_000;

function cachedField(name: FieldName, word: Word): CronField | DomField | DowField | Problem {
  // One map per field name, so a lookup needs no key string built per word.
  const cache = fieldCaches[name];
  let field = cache.get(word.text);
  if (field === undefined) {
    field = parseFieldOnce(name, word);
    if (cache.size >= FIELD_CACHE_MAX) cache.clear();
    cache.set(word.text, field);
  }
  return isProblem(field) ? { ...field, index: word.index + field.index } : field;
}

/** The field, frozen, or its problem with an offset relative to the word. */
function parseFieldOnce(name: FieldName, word: Word): CachedField {
  // Read from a copy: the cache outlives the file the word was sliced from.
  const parsed = parseField(SPECS[name], { text: detach(word.text), index: 0 });
  if (isProblem(parsed)) return Object.freeze(parsed);
  const field = name === 'dow' ? toDowField(parsed) : name === 'dom' ? { ...toCronField(parsed), last: parsed.last } : toCronField(parsed);
  deepFreeze(field);
  return field;
}

function deepFreeze(field: CronField | DomField | DowField): void {
  Object.freeze(field.values);
  if ('nth' in field) {
    for (const pair of field.nth) Object.freeze(pair);
    Object.freeze(field.nth);
    Object.freeze(field.lastOf);
  }
  Object.freeze(field);
}

function toCronField(field: ParsedField): CronField {
  return { text: field.text, star: field.star, values: ascending(field.values) };
}

function toDowField(field: ParsedField): DowField {
  const nth = [...new Map(field.nth.map((pair) => [pair.join('#'), pair])).values()];
  nth.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { ...toCronField(field), lastOf: ascending(field.lastOf), nth };
}

function ascending(values: Set<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

function parseField(spec: FieldSpec, word: Word): ParsedField | Problem {
  const field: ParsedField = {
    text: word.text,
    // Vixie sets DOM_STAR/DOW_STAR from the first character alone, so `*/2` counts as `*`.
    star: word.text.startsWith('*') || word.text.startsWith('?'),
    values: new Set(),
    last: false,
    lastOf: new Set(),
    nth: [],
  };
  for (const item of splitWord(word, ',')) {
    const problem = parseListItem(spec, item, field);
    if (problem) return problem;
  }
  return field;
}

/** One comma-separated item: a value, range, `*`, any of them with `/step`, or `L` / `nL` / `n#k`. */
function parseListItem(spec: FieldSpec, item: Word, into: ParsedField): Problem | null {
  if (item.text === '') return { index: item.index, message: `empty item in ${spec.label} list`, text: ',' };
  const slash = item.text.indexOf('/');
  const base = slash < 0 ? item : sliceWord(item, 0, slash);
  const step = slash < 0 ? 1 : parseStep(spec, sliceWord(item, slash + 1));
  if (isProblem(step)) return step;

  const special = specialKind(spec, base);
  if (special !== null) {
    if (slash >= 0) return { index: item.index + slash, message: `a step cannot follow '${base.text}'`, text: item.text.slice(slash) };
    return addSpecial(spec, special, base, into);
  }

  const range = parseRange(spec, base, slash >= 0);
  if (isProblem(range)) return range;
  for (let value = range.lo; value <= range.hi; value += step) into.values.add(foldSunday(spec, value));
  return null;
}

function parseStep(spec: FieldSpec, word: Word): number | Problem {
  if (!/^\d+$/.test(word.text)) return { index: word.index, message: `invalid step '${word.text}' in ${spec.label}`, text: word.text };
  const step = Number(word.text);
  if (step === 0) return { index: word.index, message: `step 0 in ${spec.label}: a step must be 1 or more`, text: word.text };
  return step;
}

type SpecialKind = 'last-day' | 'last-weekday' | 'nth-weekday';

function specialKind(spec: FieldSpec, base: Word): SpecialKind | null {
  if (spec.name === 'dom' && /^l$/i.test(base.text)) return 'last-day';
  if (spec.name !== 'dow') return null;
  if (base.text.includes('#')) return 'nth-weekday';
  if (/.l$/i.test(base.text)) return 'last-weekday';
  return null;
}

function addSpecial(spec: FieldSpec, kind: SpecialKind, base: Word, into: ParsedField): Problem | null {
  if (kind === 'last-day') {
    into.last = true;
    return null;
  }
  if (kind === 'last-weekday') {
    const day = parseValue(spec, sliceWord(base, 0, base.text.length - 1));
    if (isProblem(day)) return day;
    into.lastOf.add(foldSunday(spec, day));
    return null;
  }
  const hash = base.text.indexOf('#');
  const day = parseValue(spec, sliceWord(base, 0, hash));
  if (isProblem(day)) return day;
  const nth = parseNth(sliceWord(base, hash + 1));
  if (isProblem(nth)) return nth;
  into.nth.push([foldSunday(spec, day), nth]);
  return null;
}

function parseNth(word: Word): number | Problem {
  if (/^[1-5]$/.test(word.text)) return Number(word.text);
  return { index: word.index, message: `occurrence '#${word.text}' out of range 1-5`, text: word.text };
}

function parseRange(spec: FieldSpec, base: Word, stepped: boolean): { lo: number; hi: number } | Problem {
  if (base.text === '*' || (base.text === '?' && (spec.name === 'dom' || spec.name === 'dow'))) {
    return { lo: spec.min, hi: spec.openMax };
  }
  if (base.text === '?') return { index: base.index, message: `'?' is only allowed in day-of-month and day-of-week`, text: '?' };

  const dash = base.text.indexOf('-');
  if (dash < 0) {
    const value = parseValue(spec, base);
    if (isProblem(value)) return value;
    // `N/step` runs to the field's end; for dow a Sunday written 7 starts the week.
    return stepped ? { lo: foldSunday(spec, value), hi: spec.openMax } : { lo: value, hi: value };
  }
  const lo = parseValue(spec, sliceWord(base, 0, dash));
  if (isProblem(lo)) return lo;
  const hi = parseValue(spec, sliceWord(base, dash + 1));
  if (isProblem(hi)) return hi;
  if (lo > hi) return { index: base.index, message: `reversed range ${base.text} in ${spec.label}`, text: base.text };
  return { lo, hi };
}

function parseValue(spec: FieldSpec, word: Word): number | Problem {
  const { text, index } = word;
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value >= spec.min && value <= spec.max) return value;
    return { index, message: `${spec.label} ${text} out of range ${spec.min}-${spec.max}`, text };
  }
  if (spec.names && /^[a-z]+$/i.test(text)) {
    const position = spec.names.indexOf(text.toLowerCase());
    if (position >= 0) return spec.min + position;
    return { index, message: `unknown ${spec.label} name '${text}'`, text };
  }
  if (text === '') return { index, message: `missing ${spec.label} value`, text };
  return { index, message: `invalid ${spec.label} value '${text}'`, text };
}

function foldSunday(spec: FieldSpec, value: number): number {
  return spec.name === 'dow' && value === 7 ? 0 : value;
}
