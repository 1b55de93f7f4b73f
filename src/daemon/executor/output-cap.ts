/**
 * The byte budget of one run's output, shared by stdout and stderr. Pure: the
 * runner feeds chunks in arrival order and delivers only what is admitted, so
 * the cap is exact whatever the interleaving.
 */
import { formatBytes } from '../crontab/size.js';

export interface Admission {
  /** The part of the chunk still within the cap; empty once the cap is reached. */
  keep: Buffer;
  /** True for the one chunk that went over the cap: the truncation marker goes right after `keep`. */
  crossed: boolean;
}

export class OutputCap {
  #seenBytes = 0;

  constructor(readonly maxBytes: number) {}

  admit(chunk: Buffer): Admission {
    const before = this.#seenBytes;
    this.#seenBytes += chunk.length;
    const room = Math.max(0, this.maxBytes - before);
    if (chunk.length <= room) return { keep: chunk, crossed: false };
    return { keep: chunk.subarray(0, room), crossed: before <= this.maxBytes };
  }

  /** Every byte the job wrote, delivered or not: the run record tells how much was lost. */
  get seenBytes(): number {
    return this.#seenBytes;
  }

  get truncated(): boolean {
    return this.#seenBytes > this.maxBytes;
  }

  /** Text of the marker that replaces the dropped output. */
  get note(): string {
    return `output truncated at ${formatBytes(this.maxBytes)}`;
  }
}
