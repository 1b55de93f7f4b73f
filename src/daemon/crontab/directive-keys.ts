/**
 * Job settings from `#dcron` directives. What each key accepts is in
 * option-schema.ts; this applies one key's value to the settings of a job.
 */
import type { JobOptions } from './types.js';
import { DEFAULT_OPTIONS, directiveKey } from './option-schema.js';

/** Everything directives can set; `name` and `tz` live on the job itself, not in its options. */
export interface JobSettings {
  name: string | null;
  tz: string | null;
  options: JobOptions;
}

export function defaultSettings(): JobSettings {
  return { name: null, tz: null, options: { ...DEFAULT_OPTIONS } };
}

/** The settings of a job with no directives: frozen, as every such job shares them. */
export const DEFAULT_SETTINGS: Readonly<JobSettings> = Object.freeze({ name: null, tz: null, options: DEFAULT_OPTIONS });

/** Where a rejected directive went wrong: its key or its value. */
export type DirectiveOutcome = { ok: true } | { ok: false; at: 'key' | 'value'; message: string };

/** Sets `key` from `value` when both are valid. */
export function applyDirective(settings: JobSettings, key: string, value: string): DirectiveOutcome {
  const spec = directiveKey(key);
  if (spec === undefined) return { ok: false, at: 'key', message: `unknown directive key '${key}'` };
  const read = spec.kind.read(key, value);
  if (!read.ok) return { ok: false, at: 'value', message: read.message };
  if (spec.on === 'job') settings[spec.field] = read.value as string;
  // The kind read a value of the field's own type (option-schema.ts ties each key to its field).
  else (settings.options as unknown as Record<string, unknown>)[spec.field] = read.value;
  return { ok: true };
}
