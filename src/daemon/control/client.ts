import { connect, type Socket } from 'node:net';
import { DaemonUnreachableError, RemoteError } from '../errors.js';
import { LineDecoder, encodeLine, type ControlResponse } from './protocol.js';
import type { EventOf, ParamsArg, ParamsOf, ResultOf, StreamMethod, StreamParamsOf, UnaryMethod } from './methods.js';

interface Pending {
  onResult(value: unknown): void;
  onError(err: Error): void;
  onEvent?(event: unknown): void;
}

export interface StreamHandle {
  /** Resolves when the daemon ends the stream; rejects on its error or a lost connection. */
  done: Promise<void>;
  cancel(): void;
}

/** Talks to the local daemon over its control socket. */
export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly socket: Socket) {
    const decoder = new LineDecoder();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      for (const msg of decoder.push(chunk)) this.dispatch(msg as ControlResponse);
    });
    socket.on('close', () => this.failAll(new DaemonUnreachableError('the daemon closed the connection')));
    socket.on('error', () => {
      // 'close' follows and fails pending requests
    });
  }

  static connect(path: string, timeoutMs = 2000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DaemonUnreachableError(`no answer from the daemon at ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new ControlClient(socket));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = err.code === 'ENOENT' ? 'no daemon socket' : err.code === 'ECONNREFUSED' ? 'connection refused' : err.message;
        reject(new DaemonUnreachableError(`cannot reach the dcron daemon at ${path}: ${why}. Is 'dcron daemon' running with this --data-dir?`));
      });
    });
  }

  /** Calls a method of the table in methods.ts; params and result are checked against it at compile time. */
  call<M extends UnaryMethod>(method: M, ...args: ParamsArg<ParamsOf<M>>): Promise<ResultOf<M>> {
    return this.callUnchecked<ResultOf<M>>(method, args[0] ?? {});
  }

  /**
   * A call by a method name known only at run time (test harnesses, probes
   * of bad requests): nothing checks the params or what `T` claims.
   */
  callUnchecked<T = unknown>(method: string, params: unknown = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.send(method, params);
      this.pending.set(id, { onResult: (v) => resolve(v as T), onError: reject });
    });
  }

  stream<M extends StreamMethod>(method: M, params: StreamParamsOf<M>, onEvent: (event: EventOf<M>) => void): StreamHandle {
    let id = 0;
    const done = new Promise<void>((resolve, reject) => {
      id = this.send(method, params);
      this.pending.set(id, { onResult: () => resolve(), onError: reject, onEvent: onEvent as (event: unknown) => void });
    });
    return {
      done,
      cancel: () => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.onResult(undefined);
        this.socket.destroy();
      },
    };
  }

  close(): void {
    this.socket.end();
  }

  private send(method: string, params: unknown): number {
    const id = this.nextId++;
    this.socket.write(encodeLine({ id, method, params }));
    return id;
  }

  private dispatch(msg: ControlResponse): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if ('event' in msg) {
      p.onEvent?.(msg.event);
      return;
    }
    this.pending.delete(msg.id);
    if ('error' in msg) p.onError(new RemoteError(msg.error.code, msg.error.message));
    else if ('result' in msg) p.onResult(msg.result);
    else p.onResult(undefined);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.onError(err);
    this.pending.clear();
  }
}
