import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, unlinkSync } from 'node:fs';
import { DcronError } from '../errors.js';
import { LineDecoder, encodeLine, type ControlRequest, type ControlResponse } from './protocol.js';

export type UnaryHandler = (params: any) => unknown;
/**
 * Sends events until it resolves; `closed` aborts when the client goes away.
 * `backlogBytes` is how much the client has not read yet, so a stream can
 * give up on a slow reader instead of buffering for it without bound.
 */
export type StreamHandler = (params: any, send: (event: unknown) => void, closed: AbortSignal, backlogBytes: () => number) => Promise<void>;

export interface ControlApi {
  unary: Record<string, UnaryHandler>;
  streams: Record<string, StreamHandler>;
}

class UnknownMethodError extends DcronError {}

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
      const unary = this.api.unary[req.method];
      const stream = this.api.streams[req.method];
      if (unary) {
        reply({ id: req.id, result: (await unary(req.params ?? {})) ?? null });
      } else if (stream) {
        await stream(req.params ?? {}, (event) => reply({ id: req.id, event }), closed, () => socket.writableLength);
        reply({ id: req.id, end: true });
      } else {
        throw new UnknownMethodError(`unknown method '${req.method}'`);
      }
    } catch (err) {
      if (!(err instanceof DcronError)) this.onError(err);
      const code = err instanceof Error ? err.name : 'Error';
      const message = err instanceof Error ? err.message : String(err);
      reply({ id: req.id, error: { code, message } });
    }
  }
}
