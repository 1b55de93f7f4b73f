import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LogEvent } from '../control/api-types.js';
import { DcronError } from '../errors.js';
import type { Logger } from '../log.js';
import { AmbiguousRunIdError } from '../runlog/run-log.js';
import type { OutputChunk, OutputStream, RunRecord } from '../runlog/types.js';
import { requireSecret, verifyRequest, type PeerSecret, type PeerServerTls } from './peer-auth.js';

/** What the peer API serves; the daemon provides it from its run log and executor. */
export interface PeerSource {
  /** By full id or unique prefix; may throw AmbiguousRunIdError. */
  getRun(id: string): RunRecord | undefined;
  readOutput(runId: string, afterSeq: number): OutputChunk[];
  /** Newest first. */
  history(q: { job?: string; limit?: number }): RunRecord[];
  /**
   * Live output of a running run, then its end. Must deliver exactly the
   * chunks stored after a synchronous readOutput call made just before it.
   * The returned unsubscribe may be called more than once.
   */
  subscribe(runId: string, onOutput: (chunk: LiveChunk) => void, onEnd: (run: RunRecord) => void): () => void;
}

export interface LiveChunk {
  /** -1 when the chunk could not be stored: it reaches live followers only. */
  seq: number;
  stream: OutputStream;
  tsMs: number;
  data: Buffer;
}

/** The NDJSON events of the output route: the control API's LogEvent, minus what only job-following needs. */
export type PeerLogEvent = Extract<LogEvent, { type: 'run' | 'output' | 'end' }>;

/** Body of every error response. */
export interface PeerErrorBody {
  error: { code: string; message: string };
}

export interface PeerServerOptions {
  source: PeerSource;
  secret: PeerSecret;
  tls?: PeerServerTls;
  log: Logger;
  now?: () => number;
}

export class PeerListenError extends DcronError {
  constructor(readonly host: string, readonly port: number, cause: unknown) {
    super(`cannot listen for peers on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Run ids are ULIDs; a prefix of 4 or more characters names a run as it does on the command line. */
const RUN_ID = /^[0-9A-Z]{4,26}$/i;
const MAX_HISTORY_LIMIT = 10_000;
const RUN_ROUTE = /^\/v1\/runs\/([^/]+)$/;
const OUTPUT_ROUTE = /^\/v1\/runs\/([^/]+)\/output$/;

/** A request the server refuses; becomes an error response with `status`. */
class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * The peer API over HTTP(S): lets other daemons of the cluster read runs made
 * on this host. Three read-only routes; every request must carry a valid peer
 * token, checked before anything else so unauthenticated callers cannot even
 * tell which routes or runs exist.
 */
export class PeerServer {
  private readonly server: Server;
  private readonly secret: Buffer;
  private readonly now: () => number;

  constructor(private readonly opts: PeerServerOptions) {
    this.secret = requireSecret(opts.secret);
    this.now = opts.now ?? Date.now;
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    this.server = opts.tls
      ? createHttpsServer(
          {
            cert: opts.tls.cert,
            key: opts.tls.key,
            ca: opts.tls.clientCa,
            requestCert: opts.tls.clientCa !== undefined,
            rejectUnauthorized: opts.tls.clientCa !== undefined,
          },
          handler,
        )
      : createHttpServer(handler);
  }

  /** Resolves with the bound address (useful with port 0). */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new PeerListenError(host, port, err));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and cuts open streams; followers see their connection end. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      const target = req.url ?? '/';
      const auth = verifyRequest(this.secret, req.headers.authorization, req.method ?? '', target, this.now());
      if (!auth.ok) {
        // The reason names the problem, never the token or secret.
        this.opts.log.warn('peer request refused', { remote: req.socket.remoteAddress, reason: auth.reason });
        throw new HttpError(401, 'unauthorized', auth.reason);
      }
      if (req.method !== 'GET') {
        res.setHeader('allow', 'GET');
        throw new HttpError(405, 'method_not_allowed', `${req.method} is not supported; the peer API is read-only`);
      }
      if (hasBody(req)) throw new HttpError(400, 'bad_request', 'request bodies are not accepted');
      this.route(target, res);
    } catch (err) {
      this.fail(res, err);
    }
  }

  private route(target: string, res: ServerResponse): void {
    const [path, query] = splitTarget(target);
    let match: RegExpExecArray | null;
    if ((match = RUN_ROUTE.exec(path))) {
      params(query, []);
      sendJson(res, this.findRun(match[1]));
    } else if ((match = OUTPUT_ROUTE.exec(path))) {
      const p = params(query, ['after', 'follow']);
      const after = seqParam(p.get('after'));
      const follow = flagParam('follow', p.get('follow'));
      this.streamOutput(res, this.findRun(match[1]), after, follow);
    } else if (path === '/v1/history') {
      const p = params(query, ['job', 'limit']);
      sendJson(res, this.opts.source.history({ job: jobParam(p.get('job')), limit: limitParam(p.get('limit')) }));
    } else {
      throw new HttpError(404, 'not_found', `no route ${path}`);
    }
  }

  private findRun(id: string): RunRecord {
    if (!RUN_ID.test(id)) throw new HttpError(400, 'bad_request', `invalid run id '${id}'`);
    try {
      const run = this.opts.source.getRun(id);
      if (run === undefined) throw new HttpError(404, 'run_not_found', `no run with id ${id}`);
      return run;
    } catch (err) {
      if (err instanceof AmbiguousRunIdError) throw new HttpError(409, 'ambiguous_run_id', err.message);
      throw err;
    }
  }

  /**
   * Stored chunks, then (with follow) live ones until the run ends. Reading
   * the stored chunks, re-reading the run and subscribing happen in one
   * synchronous step, so no chunk is missed or sent twice.
   */
  private streamOutput(res: ServerResponse, run: RunRecord, after: number, follow: boolean): void {
    const { source } = this.opts;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const send = (event: PeerLogEvent) => res.write(JSON.stringify(event) + '\n');
    send({ type: 'run', run });
    for (const c of source.readOutput(run.id, after)) send(outputEvent(run.id, c));
    const current = source.getRun(run.id) ?? run;
    if (!follow || current.status !== 'running') {
      send({ type: 'end', run: current });
      res.end();
      return;
    }
    const unsubscribe = source.subscribe(
      run.id,
      (chunk) => send(outputEvent(run.id, chunk)),
      (ended) => {
        unsubscribe();
        send({ type: 'end', run: ended });
        res.end();
      },
    );
    // A follower that leaves, or a server closing, stops the subscription.
    res.once('close', unsubscribe);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const known = err instanceof HttpError;
    if (!known) this.opts.log.error('peer request failed', { err });
    if (res.headersSent) {
      // Mid-stream there is no status left to send: cutting the connection tells the client the stream is incomplete.
      res.destroy();
      return;
    }
    const status = known ? err.status : 500;
    const body: PeerErrorBody = {
      error: known ? { code: err.code, message: err.message } : { code: 'internal', message: 'internal error in the peer API (see the daemon log)' },
    };
    sendJson(res, body, status);
  }
}

function outputEvent(runId: string, c: LiveChunk): PeerLogEvent {
  return { type: 'output', runId, seq: c.seq, stream: c.stream, tsMs: c.tsMs, data: c.data.toString('base64') };
}

function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function splitTarget(target: string): [string, string] {
  const at = target.indexOf('?');
  return at === -1 ? [target, ''] : [target.slice(0, at), target.slice(at + 1)];
}

/** Unknown or repeated parameters are refused rather than ignored, so a client bug or version mismatch shows. */
function params(query: string, allowed: string[]): URLSearchParams {
  const p = new URLSearchParams(query);
  for (const key of new Set(p.keys())) {
    if (!allowed.includes(key)) throw new HttpError(400, 'bad_request', `unknown parameter '${key}'`);
    if (p.getAll(key).length > 1) throw new HttpError(400, 'bad_request', `parameter '${key}' given twice`);
  }
  return p;
}

function seqParam(value: string | null): number {
  if (value === null) return 0;
  if (!/^\d{1,15}$/.test(value)) throw new HttpError(400, 'bad_request', `'after' must be a non-negative integer, got '${value}'`);
  return Number(value);
}

function flagParam(name: string, value: string | null): boolean {
  if (value === null || value === '0') return false;
  if (value === '1') return true;
  throw new HttpError(400, 'bad_request', `'${name}' must be 0 or 1, got '${value}'`);
}

function jobParam(value: string | null): string | undefined {
  if (value === '') throw new HttpError(400, 'bad_request', `'job' must not be empty`);
  return value ?? undefined;
}

function limitParam(value: string | null): number | undefined {
  if (value === null) return undefined;
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_HISTORY_LIMIT)) {
    throw new HttpError(400, 'bad_request', `'limit' must be an integer from 1 to ${MAX_HISTORY_LIMIT}, got '${value}'`);
  }
  return n;
}
