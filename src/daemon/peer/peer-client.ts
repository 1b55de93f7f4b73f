import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DcronError, InvalidRequestError } from '../errors.js';
import type { RunRecord } from '../runlog/types.js';
import { requireSecret, signRequest, type PeerClientTls, type PeerSecret } from './peer-auth.js';
import type { PeerErrorBody, PeerLogEvent } from './peer-server.js';

export interface PeerClientOptions {
  /** This host's node id; the peer logs it with each request. */
  nodeId: string;
  secret: PeerSecret;
  tls?: PeerClientTls;
  /** How long to wait for a peer to answer (response headers) before calling it unreachable. */
  timeoutMs?: number;
  now?: () => number;
}

export interface OutputStreamHandle {
  /** Resolves once the peer sent the run's end (or on cancel); rejects with a Peer*Error, or with what onEvent threw. */
  done: Promise<void>;
  cancel(): void;
}

/** The peer could not be reached or the connection broke before the answer was complete. */
export class PeerUnreachableError extends DcronError {
  constructor(readonly url: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot reach peer at ${url}: ${reason}`, options);
  }
}

/** The peer refused our credentials; `reason` is the peer's explanation (wrong secret, clock skew). */
export class PeerAuthError extends DcronError {
  constructor(readonly url: string, readonly reason: string) {
    super(`peer at ${url} refused authentication: ${reason}`);
  }
}

export class PeerNotFoundError extends DcronError {
  constructor(readonly url: string, message: string) {
    super(`peer at ${url}: ${message}`);
  }
}

/** The peer answered with another error, or with something that is not the peer protocol. */
export class PeerRequestError extends DcronError {
  constructor(readonly url: string, readonly status: number, message: string) {
    super(`peer at ${url} answered ${status}: ${message}`);
  }
}

const DEFAULT_TIMEOUT_MS = 5_000;
/** Error bodies are small JSON; anything longer is not from a dcron peer. */
const MAX_ERROR_BODY = 64 * 1024;

/** Calls other daemons' peer API (see PeerServer). */
export class PeerClient {
  private readonly secret: Buffer;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: PeerClientOptions) {
    this.secret = requireSecret(opts.secret);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  /** A run by full id or unique prefix; throws PeerNotFoundError when the peer has no such run. */
  async getRun(baseUrl: string, id: string): Promise<RunRecord> {
    return (await this.getJson(baseUrl, `/v1/runs/${encodeURIComponent(id)}`)) as RunRecord;
  }

  /** Newest first. */
  async history(baseUrl: string, q: { job?: string; limit?: number } = {}): Promise<RunRecord[]> {
    const query = new URLSearchParams();
    if (q.job !== undefined) query.set('job', q.job);
    if (q.limit !== undefined) query.set('limit', String(q.limit));
    return (await this.getJson(baseUrl, withQuery('/v1/history', query))) as RunRecord[];
  }

  /**
   * Streams a run's output after chunk `after`; with `follow`, live output
   * until the run ends. Events arrive in order: run, output..., end.
   */
  streamOutput(
    baseUrl: string,
    id: string,
    options: { after?: number; follow?: boolean },
    onEvent: (event: PeerLogEvent) => void,
  ): OutputStreamHandle {
    const query = new URLSearchParams();
    if (options.after !== undefined) query.set('after', String(options.after));
    if (options.follow) query.set('follow', '1');
    let request: ClientRequest | undefined;
    let cancelled = false;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const streamed = (async () => {
      const sent = this.send(baseUrl, withQuery(`/v1/runs/${encodeURIComponent(id)}/output`, query));
      request = sent.request;
      await readEvents(sent.url, await sent.response, (event) => {
        if (!cancelled) onEvent(event);
      });
    })();
    return {
      // Cancelling wins the race, so the error of the connection it cuts is not reported.
      done: Promise.race([stopped, streamed]),
      cancel: () => {
        cancelled = true;
        stop();
        request?.destroy();
      },
    };
  }

  private async getJson(baseUrl: string, target: string): Promise<unknown> {
    const { url, response } = this.send(baseUrl, target);
    const body = await readBody(url, await response, Infinity);
    try {
      return JSON.parse(body);
    } catch {
      throw new PeerRequestError(url, 200, 'the answer is not JSON: is this a dcron peer API address?');
    }
  }

  /**
   * Sends a signed GET. `response` resolves with a 200 response, or rejects
   * with the typed error for anything else.
   */
  private send(baseUrl: string, target: string): { url: string; request: ClientRequest; response: Promise<IncomingMessage> } {
    const url = new URL(target, this.peerOrigin(baseUrl));
    const path = url.pathname + url.search;
    const headers = { authorization: signRequest(this.secret, this.opts.nodeId, 'GET', path, this.now()) };
    const href = url.toString();
    const request = url.protocol === 'https:' ? httpsRequest(url, { headers, ...this.opts.tls }) : httpRequest(url, { headers });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(() => request.destroy(new PeerUnreachableError(href, `no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      request.once('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode === 200) resolve(res);
        else readBody(href, res, MAX_ERROR_BODY).then((body) => reject(statusError(href, res.statusCode ?? 0, body)), reject);
      });
      request.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof DcronError ? err : new PeerUnreachableError(href, describeNetError(err), { cause: err }));
      });
    });
    request.end();
    return { url: href, request, response };
  }
  /** Peers are addressed by origin (`https://host:port`); the paths are the protocol's. */
  private peerOrigin(baseUrl: string): URL {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new InvalidRequestError(`invalid peer URL '${baseUrl}'`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '') {
      throw new InvalidRequestError(`invalid peer URL '${baseUrl}': expected http(s)://host:port`);
    }
    // With TLS configured, a plain-http address would silently send run output in clear.
    if (this.opts.tls !== undefined && url.protocol !== 'https:') {
      throw new InvalidRequestError(`peer URL '${baseUrl}' must be https: TLS is configured for peers`);
    }
    return url;
  }
}

function withQuery(path: string, query: URLSearchParams): string {
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
}

function readBody(url: string, res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) res.destroy(new PeerRequestError(url, res.statusCode ?? 0, 'answer too long'));
    });
    res.once('end', () => resolve(body));
    res.on('error', (err) => reject(err instanceof DcronError ? err : new PeerUnreachableError(url, 'connection lost while reading the answer', { cause: err })));
  });
}

/** Parses the NDJSON event stream; resolves after the run's end event. */
function readEvents(url: string, res: IncomingMessage, onEvent: (event: PeerLogEvent) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = '';
    let ended = false;
    const fail = (err: Error) => {
      reject(err);
      res.destroy();
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        let event: PeerLogEvent;
        try {
          event = JSON.parse(line) as PeerLogEvent;
        } catch {
          return fail(new PeerRequestError(url, 200, 'the output stream is not NDJSON'));
        }
        try {
          onEvent(event);
        } catch (err) {
          return fail(err as Error);
        }
        if (event.type === 'end') ended = true;
      }
    });
    res.once('end', () => (ended ? resolve() : reject(new PeerUnreachableError(url, 'the peer closed the stream before the run ended'))));
    res.on('error', (err) => reject(new PeerUnreachableError(url, 'connection lost during the output stream', { cause: err })));
  });
}

function statusError(url: string, status: number, body: string): Error {
  const message = errorMessage(body);
  if (status === 401) return new PeerAuthError(url, message);
  if (status === 404) return new PeerNotFoundError(url, message);
  return new PeerRequestError(url, status, message);
}

function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as Partial<PeerErrorBody>;
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
  } catch {
    // not a dcron peer's error body: show what came
  }
  return body.slice(0, 200) || '(no explanation)';
}

function describeNetError(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ENOTFOUND') return 'host not found';
  if (err.code === 'ECONNRESET') return 'connection reset';
  return err.message;
}
