import { closeSync, openSync, rmSync, writeSync } from 'node:fs';

/**
 * A file of real bytes kept in the data dir and given up when the disk
 * fills: the write that found the disk full is retried into the space it
 * frees, so the run record of a tick already claimed is not lost, and the
 * node stops claiming until there is room for the reserve again.
 */
export class DiskReserve {
  private held = false;

  constructor(private readonly path: string, private readonly bytes = 8 * 1024 * 1024) {}

  /** Writes the reserve if it is not held. False when the disk has no room for it (nothing is left behind). */
  ensure(): boolean {
    if (this.held) return true;
    let fd: number | null = null;
    try {
      fd = openSync(this.path, 'w', 0o600);
      // Real zeros, not a sparse truncate: only written blocks are taken from the disk.
      const chunk = Buffer.alloc(1024 * 1024);
      for (let written = 0; written < this.bytes; written += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, this.bytes - written));
      this.held = true;
    } catch {
      rmSync(this.path, { force: true });
    } finally {
      if (fd !== null) closeSync(fd);
    }
    return this.held;
  }

  /** Frees the reserve's space. True if it was held. */
  release(): boolean {
    if (!this.held) return false;
    rmSync(this.path, { force: true });
    this.held = false;
    return true;
  }
}

/** SQLite's answer when a write finds no room: SQLITE_FULL, or an I/O error from a write that hit ENOSPC. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'SQLITE_FULL' || (typeof code === 'string' && code.startsWith('SQLITE_IOERR'));
}
