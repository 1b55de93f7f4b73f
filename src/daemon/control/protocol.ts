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

/**
 * Splits a byte stream into JSON lines; tolerates chunks cut mid-line. A
 * partial line is kept as a list of pieces, so a line of tens of megabytes
 * (a snapshot of 100,000 jobs) costs linear time, not a re-scan per chunk.
 */
export class LineDecoder {
  private pieces: string[] = [];

  push(chunk: string): unknown[] {
    const out: unknown[] = [];
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', from)) {
      this.pieces.push(chunk.slice(from, nl));
      const line = this.pieces.join('');
      this.pieces = [];
      if (line.trim() !== '') out.push(JSON.parse(line) as unknown);
      from = nl + 1;
    }
    if (from < chunk.length) this.pieces.push(chunk.slice(from));
    return out;
  }
}

export const encodeLine = (message: unknown): string => JSON.stringify(message) + '\n';
