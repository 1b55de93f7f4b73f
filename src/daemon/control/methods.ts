import type { JobDefinition } from '../crontab/types.js';
import type { RunRecord } from '../runlog/types.js';
import { InvalidRequestError } from '../errors.js';
import type { BackfillTickView, DaemonEvent, JobView, LogEvent, NodeView, PauseView, RunStartView, StatusView } from './api-types.js';

/**
 * The control socket's methods, one table for the server's handlers and
 * the client's calls, so a method renamed or a field changed on one side
 * fails to compile on the other.
 */
export interface ControlMethods {
  status: { params: NoParams; result: StatusView };
  ls: { params: NoParams; result: JobView[] };
  run: { params: { job: string }; result: RunStartView };
  kill: { params: { job: string; runId?: string }; result: { killed: string[] } };
  history: { params: { job?: string; limit?: number; beforeId?: string }; result: RunRecord[] };
  nodes: { params: NoParams; result: NodeView[] };
  /** Compares a crontab file's jobs with the cluster's list. */
  diff: { params: { jobs: JobDefinition[]; hasErrors?: boolean }; result: { text: string } };
  reload: { params: NoParams; result: StatusView };
  /** `untilMs`: ticks from then on run again; absent: until resumed. */
  pause: { params: { job: string; untilMs?: number }; result: { job: string; paused: PauseView } };
  /** `resumed` false: the job was not paused. */
  resume: { params: { job: string }; result: { job: string; resumed: boolean } };
  /** The ticks `dcron backfill` would run in [fromMs, toMs] (checked: job, range cap, parallel vs overlap), oldest first. */
  backfillPlan: { params: { job: string; fromMs: number; toMs: number; parallel?: number }; result: { job: string; ticks: number[] } };
  /** Runs one past tick here, claimed once cluster-wide; `wait`: answer when its runs ended. */
  backfillTick: { params: { job: string; tickMs: number; wait?: boolean }; result: BackfillTickView };
}

/** Methods that answer with events until they end. */
export interface ControlStreams {
  /** `shard`: the newest run of that shard (0-based) of the job, instead of the job's newest run. */
  logs: { params: { job?: string; runId?: string; follow?: boolean; shard?: number }; event: LogEvent };
  events: { params: NoParams; event: DaemonEvent };
}

export type NoParams = Record<string, never>;
export type UnaryMethod = keyof ControlMethods;
export type StreamMethod = keyof ControlStreams;
export type ParamsOf<M extends UnaryMethod> = ControlMethods[M]['params'];
export type ResultOf<M extends UnaryMethod> = ControlMethods[M]['result'];
export type StreamParamsOf<M extends StreamMethod> = ControlStreams[M]['params'];
export type EventOf<M extends StreamMethod> = ControlStreams[M]['event'];
/** Params may be left out when every field is optional. */
export type ParamsArg<P> = {} extends P ? [params?: P] : [params: P];

/** How a param is checked: required fields must be present and non-empty. */
type FieldKind = 'string' | 'string?' | 'number' | 'number?' | 'boolean?' | 'array';
/** One kind per field, so a field added to the table without a check does not compile. */
type ParamSpec<P> = { [K in keyof P]-?: FieldKind };

const specs: { [M in UnaryMethod]: ParamSpec<ParamsOf<M>> } & { [M in StreamMethod]: ParamSpec<StreamParamsOf<M>> } = {
  status: {},
  ls: {},
  run: { job: 'string' },
  kill: { job: 'string', runId: 'string?' },
  history: { job: 'string?', limit: 'number?', beforeId: 'string?' },
  nodes: {},
  diff: { jobs: 'array', hasErrors: 'boolean?' },
  reload: {},
  pause: { job: 'string', untilMs: 'number?' },
  resume: { job: 'string' },
  backfillPlan: { job: 'string', fromMs: 'number', toMs: 'number', parallel: 'number?' },
  backfillTick: { job: 'string', tickMs: 'number', wait: 'boolean?' },
  logs: { job: 'string?', runId: 'string?', follow: 'boolean?', shard: 'number?' },
  events: {},
};

export const isUnaryMethod = (name: string): name is UnaryMethod => isMethod(name) && !STREAMS.has(name);
export const isStreamMethod = (name: string): name is StreamMethod => STREAMS.has(name);
const STREAMS = new Set<string>(['logs', 'events'] satisfies StreamMethod[]);
// Own keys only: a method named 'toString' or '__proto__' must not reach Object.prototype.
const isMethod = (name: string): name is UnaryMethod | StreamMethod => Object.hasOwn(specs, name);

/**
 * Checks a request's params as they came off the socket against the
 * method's row of the table; fields the table does not know are dropped,
 * so a handler sees only what it was typed for.
 */
export function parseParams<M extends UnaryMethod>(method: M, raw: unknown): ParamsOf<M>;
export function parseParams<M extends StreamMethod>(method: M, raw: unknown): StreamParamsOf<M>;
export function parseParams(method: UnaryMethod | StreamMethod, raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidRequestError(`${method}: params must be an object`);
  const given = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(specs[method] as Record<string, FieldKind>)) {
    const v = given[field];
    const optional = kind.endsWith('?');
    if (v === undefined || v === null || (v === '' && !optional)) {
      if (!optional) throw new InvalidRequestError(`missing ${field}`);
      continue;
    }
    if (!fits(v, kind)) throw new InvalidRequestError(`${method}: ${field} must be ${describe(kind)}`);
    out[field] = v;
  }
  return out;
}

function fits(v: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'string':
    case 'string?':
      return typeof v === 'string';
    case 'number':
    case 'number?':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean?':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
  }
}

const describe = (kind: FieldKind): string => ({ string: 'a string', 'string?': 'a string', number: 'a finite number', 'number?': 'a finite number', 'boolean?': 'true or false', array: 'an array' })[kind];
