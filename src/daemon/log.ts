/**
 * The daemon's log, written by pino: one JSON object per line on stderr (for
 * journald and log shippers), or a readable line (pino-pretty, in process)
 * when stderr is a terminal. Every line carries the fields that locate it
 * (job, tick, run id, node); an Error in any field is written as
 * { type, message, stack }.
 */
import { pino, stdSerializers, type Logger as PinoLogger } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Receives each line without its newline, synchronously (tests capture lines with it). Default: stderr. */
  write?: (line: string) => void;
  /** Human-readable lines instead of JSON. Default: when stderr is a terminal. */
  pretty?: boolean;
  now?: () => number;
}

export function createLogger(opts: LoggerOptions = {}, base: LogFields = {}): Logger {
  const write = opts.write ?? ((line: string) => void process.stderr.write(line + '\n'));
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  const now = opts.now ?? Date.now;
  const prettify = pretty ? prettyFactory({ colorize: opts.write === undefined && process.stderr.isTTY === true, translateTime: 'HH:MM:ss.l', singleLine: true }) : null;
  // pino calls write() synchronously for every line: no worker thread, no buffering.
  const destination = {
    write(line: string) {
      const out = prettify ? prettify(line) : line;
      write(out.endsWith('\n') ? out.slice(0, -1) : out);
    },
  };
  const root = pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
      // pino-pretty reads numeric levels; JSON lines carry the label ("info") for humans and shippers.
      formatters: prettify ? {} : { level: (label) => ({ level: label }) },
      // Errors in any field are serialised by serializable() below; pino's own `err` serializer would redo it.
      serializers: { err: (v: unknown) => v },
    },
    destination,
  );
  return wrap(root, base);
}

/** Child fields are merged with the call's (the call wins), so a key is never written twice. */
function wrap(root: PinoLogger, base: LogFields): Logger {
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (!root.isLevelEnabled(level)) return;
    root[level](serializable({ ...base, ...fields }), msg);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => wrap(root, { ...base, ...fields }),
  };
}

function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? stdSerializers.err(v) : v;
  return out;
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** Names for a log field: all of a few, the first `max` of many and how many more (a first sync adds 100,000). */
export function someNames(names: readonly string[], max = 20): string[] {
  return names.length <= max ? [...names] : [...names.slice(0, max), `... and ${names.length - max} more`];
}
