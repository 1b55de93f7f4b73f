import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { parse, TomlError } from 'smol-toml';
import { flagProblem } from '../daemon/config/daemon-flags.js';
import { UsageError } from './errors.js';

/**
 * The daemon's config file: TOML, one top-level `key = value` per daemon flag,
 * keys spelled as the flags are (`node-id = "web-1"`, `label = ["role=web"]`).
 *
 *   flags > env (DCRON_*) > file > defaults
 *
 * The keys are read off the daemon command's own options, so a flag added
 * there is a config key at once. Each value is checked as it is read, with
 * the same checks as the flag (daemon-flags.ts), so an error can name the
 * file, line and key. Every problem is a UsageError: exit 2.
 */

export const DEFAULT_CONFIG_PATH = '/etc/dcron/config';

/** Options of the daemon command that make no sense in the file. */
const NOT_IN_FILE = new Set(['config', 'help', 'version']);

/** Keys whose value is a path: relative paths are taken from the config file's directory. */
const PATH_KEYS = new Set(['crontab', 'data-dir', 'etcd-ca', 'etcd-cert', 'etcd-key', 'peer-secret-file']);

/** Env variables read elsewhere than by commander (the data dir's default comes from paths.ts). */
const EXTRA_ENV: Record<string, string> = { 'data-dir': 'DCRON_DATA_DIR' };

export interface ConfigKey {
  key: string;
  attribute: string;
  repeatable: boolean;
  boolean: boolean;
  choices?: readonly string[];
  env: string[];
}

export interface ConfigEntry {
  key: string;
  line: number;
  value: string | string[] | boolean;
}

export interface ConfigFile {
  path: string;
  entries: ConfigEntry[];
}

/** The config keys of a command: its long options, minus the ones that only make sense on a command line. */
export function configKeys(cmd: Command): ConfigKey[] {
  return cmd.options
    .filter((o: Option) => o.long && !NOT_IN_FILE.has(o.long.slice(2)))
    .map((o: Option) => {
      const key = o.long!.slice(2);
      return {
        key,
        attribute: o.attributeName(),
        repeatable: Array.isArray(o.defaultValue),
        boolean: o.isBoolean(),
        choices: o.argChoices,
        env: [o.envVar, EXTRA_ENV[key]].filter((e): e is string => !!e),
      };
    });
}

/** Parses and validates a config file's text. Throws a UsageError naming `path`, the line and the key. */
export function parseConfig(text: string, path: string, keys: ConfigKey[]): ConfigFile {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const what = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
      throw new UsageError(`${path}:${err.line}:${err.column}: ${what} (the config file is TOML: key = "value")`);
    }
    throw err;
  }
  const lines = text.split(/\r?\n/);
  const lineOf = (key: string): number => {
    const esc = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const re = new RegExp(`^\\s*(?:\\[\\s*)?(?:${esc}|"${esc}"|'${esc}')\\s*[=.\\]]`);
    const i = lines.findIndex((l) => re.test(l));
    return i + 1;
  };
  const byKey = new Map(keys.map((k) => [k.key, k]));
  const entries: ConfigEntry[] = [];
  for (const [key, raw] of Object.entries(doc)) {
    const line = lineOf(key);
    const at = `${path}:${line}: ${key}`;
    const spec = byKey.get(key);
    if (!spec) {
      const hint = byKey.has(key.replace(/_/g, '-')) ? ` (did you mean '${key.replace(/_/g, '-')}'?)` : '';
      if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) throw new UsageError(`${path}:${line}: [${key}]: sections are not supported; write every key at the top level`);
      throw new UsageError(`${at}: unknown key${hint}; known keys: ${keys.map((k) => k.key).join(', ')}`);
    }
    const value = convert(raw, spec, at);
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string') continue;
      if (spec.choices && !spec.choices.includes(v)) throw new UsageError(`${at}: '${v}' is not one of ${spec.choices.join(', ')}`);
      const problem = flagProblem(key, v);
      if (problem) throw new UsageError(`${at}: ${problem}`);
    }
    const resolved = PATH_KEYS.has(key) && typeof value === 'string' ? resolve(dirname(resolve(path)), value) : value;
    entries.push({ key, line, value: resolved });
  }
  return { path, entries };
}

function convert(raw: unknown, spec: ConfigKey, at: string): string | string[] | boolean {
  const scalar = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'bigint') return v.toString();
    throw new UsageError(`${at}: expected a string${spec.repeatable ? ' or a list of strings' : ''}, got ${describe(v)}`);
  };
  if (spec.boolean) {
    if (typeof raw !== 'boolean') throw new UsageError(`${at}: expected true or false, got ${describe(raw)}`);
    return raw;
  }
  if (spec.repeatable) return Array.isArray(raw) ? raw.map(scalar) : [scalar(raw)];
  if (Array.isArray(raw)) throw new UsageError(`${at}: expected one value, got a list`);
  return scalar(raw);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a date';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a table';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * Sets each file value on `cmd` unless the flag was given on the command
 * line or by its environment variable: flags > env > file > defaults.
 * Returns the keys the file set.
 */
export function applyConfig(cmd: Command, file: ConfigFile, env: NodeJS.ProcessEnv = process.env): string[] {
  const byKey = new Map(configKeys(cmd).map((k) => [k.key, k]));
  const applied: string[] = [];
  for (const entry of file.entries) {
    const spec = byKey.get(entry.key)!;
    const source = cmd.getOptionValueSource(spec.attribute);
    if (source === 'cli' || source === 'env') continue;
    if (spec.env.some((name) => env[name] !== undefined && env[name] !== '')) continue;
    cmd.setOptionValueWithSource(spec.attribute, entry.value, 'config');
    applied.push(entry.key);
  }
  return applied;
}

/**
 * The daemon's use of all this: `--config FILE` must exist; without it the
 * default path is read only if it exists. Returns the file used, or null.
 */
export function loadConfig(cmd: Command, explicit: string | undefined, defaultPath: string = DEFAULT_CONFIG_PATH, env: NodeJS.ProcessEnv = process.env): string | null {
  const path = explicit ?? (existsSync(defaultPath) ? defaultPath : null);
  if (path === null) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new UsageError(`config file ${path}: ${why}`);
  }
  applyConfig(cmd, parseConfig(text, path, configKeys(cmd)), env);
  return path;
}
