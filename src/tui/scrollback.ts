import { StringDecoder } from 'node:string_decoder';
import { printable } from './format.js';

export interface ScrollbackView {
  /** The kept lines, oldest first; the last one may still be growing. */
  lines: string[];
  /** Absolute number of lines[0] since the run started (lines before it were let go). */
  first: number;
}

/**
 * The last `limit` lines of a run's output, for display only: the daemon keeps
 * the full log, so dropping old lines here loses nothing.
 */
export class Scrollback {
  private readonly done: string[] = [];
  private partial = '';
  private dropped = 0;
  // Chunks may split a multi-byte character; the decoder carries it over.
  private decoder = new StringDecoder('utf8');

  constructor(private readonly limit: number) {}

  push(data: Buffer): void {
    const parts = (this.partial + this.decoder.write(data)).split('\n');
    this.partial = parts.pop()!;
    for (const p of parts) this.done.push(printable(p.replace(/\r$/, '')));
    const excess = this.done.length - this.limit;
    if (excess > 0) {
      this.done.splice(0, excess);
      this.dropped += excess;
    }
  }

  reset(): void {
    this.done.length = 0;
    this.partial = '';
    this.dropped = 0;
    this.decoder = new StringDecoder('utf8');
  }

  view(): ScrollbackView {
    return { lines: this.partial === '' ? [...this.done] : [...this.done, printable(this.partial)], first: this.dropped };
  }
}
