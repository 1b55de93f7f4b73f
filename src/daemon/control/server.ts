import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, unlinkSync } from 'node:fs';
import { DcronError } from '../errors.js';
import { LineDecoder, encodeLine, type ControlRequest, type ControlResponse } from './protocol.js';
import { isStreamMethod, isUnaryMethod, parseParams, type EventOf, type ParamsOf, type ResultOf, type StreamMethod, type StreamParamsOf, type UnaryMethod } from './methods.js';

export type UnaryHandler<M extends UnaryMethod> = (params: ParamsOf<M>) => ResultOf<M> | Promise<ResultOf<M>>;
/**
 * Sends events until it resolves; `closed` aborts when the client goes away.
 * `backlogBytes` is how much the client has not read yet, so a stream can
 * give up on a slow reader instead of buffering for it without bound.
 */
export type StreamHandler<M extends StreamMethod> = (params: StreamParamsOf<M>, send: (event: EventOf<M>) => void, closed: AbortSignal, backlogBytes: () => number) => Promise<void>;

export type UnaryHandlers = { [M in UnaryMethod]: UnaryHandler<M> };
export type StreamHandlers = { [M in StreamMethod]: StreamHandler<M> };

export interface ControlApi {
  unary: UnaryHandlers;
  streams: StreamHandlers;
}

export class UnknownMethodError extends DcronError {}

/**
 * Serves the control API on a Unix socket readable only by its owner (0600):
 * whoever can connect can run and kill jobs, so the socket's mode is the
 * access control.
 */
export class ControlServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly path: string,
    private readonly api: ControlApi,
    private readonly onError: (err: unknown) => void,
  ) {}

  async listen(): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    // umask closes the window between bind and chmod in which others could connect.
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(previous);
    }
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone: nothing to clean
    }
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const decoder = new LineDecoder();
    const closed = new AbortController();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let requests: unknown[];
      try {
        requests = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      // Not a request at all: the peer does not speak the protocol, as with a line that is not JSON.
      if (requests.some((r) => typeof r !== 'object' || r === null)) {
        socket.destroy();
        return;
      }
      for (const r of requests) void this.handle(r as ControlRequest, socket, closed.signal);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      closed.abort();
    });
  }

  private async handle(req: ControlRequest, socket: Socket, closed: AbortSignal): Promise<void> {
    const reply = (r: ControlResponse) => {
      if (!socket.destroyed) socket.write(encodeLine(r));
    };
    try {
      const method = String(req.method);
      if (isUnaryMethod(method)) {
        reply({ id: req.id, result: (await this.callUnary(method, req.params)) ?? null });
      } else if (isStreamMethod(method)) {
        await this.callStream(method, req.params, (event) => reply({ id: req.id, event }), closed, () => socket.writableLength);
        reply({ id: req.id, end: true });
      } else {
        throw new UnknownMethodError(`unknown method '${method}'`);
      }
    } catch (err) {
      if (!(err instanceof DcronError)) this.onError(err);
      const code = err instanceof Error ? err.name : 'Error';
      const message = err instanceof Error ? err.message : String(err);
      reply({ id: req.id, error: { code, message } });
    }
  }

  // TypeScript cannot follow one method name through a table lookup and a
  // call, so each is narrowed once here, where parseParams has checked it.
  private callUnary<M extends UnaryMethod>(method: M, raw: unknown): Promise<ResultOf<M>> | ResultOf<M> {
    const handler = this.api.unary[method] as UnaryHandler<M>;
    return handler(parseParams(method, raw));
  }

  private callStream<M extends StreamMethod>(method: M, raw: unknown, send: (event: EventOf<M>) => void, closed: AbortSignal, backlogBytes: () => number): Promise<void> {
    const handler = this.api.streams[method] as StreamHandler<M>;
    return handler(parseParams(method, raw), send, closed, backlogBytes);
  }
}
