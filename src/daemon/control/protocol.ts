/**
 * The control protocol between the daemon and its clients (CLI, TUI) on the
 * local Unix socket: newline-delimited JSON. A request names a method; a
 * unary method answers once, a stream method sends events until `end`.
 * Several requests may share one connection, told apart by `id`.
 */
export interface ControlRequest {
  id: number;
  method: string;
  params?: unknown;
}

export interface ControlErrorBody {
  /** Error class name on the daemon side, e.g. `UnknownJobError`. */
  code: string;
  message: string;
}

export type ControlResponse =
  | { id: number; result: unknown }
  | { id: number; error: ControlErrorBody }
  | { id: number; event: unknown }
  | { id: number; end: true };

/** Splits a byte stream into JSON lines; tolerates chunks cut mid-line. */
export class LineDecoder {
  private buffered = '';

  push(chunk: string): unknown[] {
    this.buffered += chunk;
    const lines = this.buffered.split('\n');
    this.buffered = lines.pop() ?? '';
    return lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  }
}

export const encodeLine = (message: unknown): string => JSON.stringify(message) + '\n';
