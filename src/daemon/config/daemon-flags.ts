/**
 * What the daemon's flags (and config-file keys, spelled the same) accept.
 * The config file checks each value it reads and the command line each flag
 * it was given, both here, so a value the file refuses is refused on the
 * command line too, with the same words.
 */
import { SAFE_SEGMENT } from '../coordination/etcd/keys.js';
import { bad, GROUP_NAME, isHttpUrl, ok, type ReadOutcome } from '../crontab/option-values.js';
import { settingOfFlag } from './daemon-config.js';

export interface HostPort {
  host: string;
  port: number;
}

/** A node id or cluster name: it becomes an etcd key segment. */
export function readSegment(text: string): ReadOutcome<string> {
  return SAFE_SEGMENT.test(text) ? ok(text) : bad(`'${text}': use letters, digits, '.', '_' or '-' (at most 128), starting with a letter or digit`);
}

export function readLabel(text: string): ReadOutcome<[key: string, value: string]> {
  const i = text.indexOf('=');
  return i > 0 ? ok([text.slice(0, i), text.slice(i + 1)]) : bad(`'${text}': expected key=value`);
}

/** Most runs one concurrency group may have at once: each is an etcd key. */
export const MAX_GROUP_LIMIT = 10_000;

/** `--group NAME=K`: at most K runs of the jobs with `group=NAME` at once, cluster-wide. */
export function readGroupLimit(text: string): ReadOutcome<[name: string, limit: number]> {
  const i = text.indexOf('=');
  if (i <= 0) return bad(`'${text}': expected NAME=K, e.g. --group etl=2`);
  const name = text.slice(0, i);
  const limitText = text.slice(i + 1);
  if (!GROUP_NAME.test(name)) return bad(`'${name}' is not a group name: use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  const limit = /^\d+$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= MAX_GROUP_LIMIT)) return bad(`'${text}': the limit must be a whole number from 1 to ${MAX_GROUP_LIMIT}`);
  return ok([name, limit]);
}

/** `--etcd`: comma-separated http(s)://host:port, blanks between commas ignored. */
export function readEndpoints(text: string): ReadOutcome<string[]> {
  const endpoints = text.split(',').map((u) => u.trim()).filter(Boolean);
  const wrong = endpoints.find((u) => !/^https?:\/\/[^/]+$/.test(u));
  return wrong === undefined ? ok(endpoints) : bad(`'${wrong}' is not an endpoint such as http://10.0.0.5:2379`);
}

/** `--metrics`: `host:port`, an IPv6 host in brackets (`[::1]:9464`). */
export function readMetricsListen(text: string): ReadOutcome<HostPort> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  return m && port <= 65535 ? ok({ host: m[1] ?? m[2], port }) : bad(`'${text}': expected host:port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464`);
}

/** `--peer-listen`: the host part goes to the HTTP server as written. */
export function readPeerListen(text: string): ReadOutcome<HostPort> {
  const m = /^(.+):(\d+)$/.exec(text);
  return m ? ok({ host: m[1], port: Number(m[2]) }) : bad(`'${text}': expected host:port, e.g. 0.0.0.0:7946`);
}

export function readWebhook(text: string): ReadOutcome<string> {
  return isHttpUrl(text) ? ok(text) : bad(`'${text}' is not an http:// or https:// URL`);
}

const READERS: Record<string, (text: string) => ReadOutcome<unknown>> = {
  'node-id': readSegment,
  cluster: readSegment,
  label: readLabel,
  group: readGroupLimit,
  etcd: readEndpoints,
  metrics: readMetricsListen,
  'peer-listen': readPeerListen,
  'alert-webhook': readWebhook,
};

/** What is wrong with `text` as the value of `flag`; null when it is fine or the flag takes any text. */
export function flagProblem(flag: string, text: string): string | null {
  const read = settingOfFlag(flag)?.kind.read(text) ?? READERS[flag]?.(text);
  return read === undefined || read.ok ? null : read.message;
}
