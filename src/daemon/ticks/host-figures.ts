/**
 * This host's figures, as a job's `requires=` compares them (ticks/
 * host-requirements.ts) and its node record publishes them: free memory,
 * the 1-minute load, free space of the data dir. Sampled at most once per
 * `maxAgeMs` (1 s), so asking for every tick of a burst costs one read.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { freemem, loadavg, totalmem } from 'node:os';

export interface HostFigures {
  /**
   * Bytes a new process can take without swapping: the kernel's
   * MemAvailable, and no more than the daemon's cgroup (the jobs' too)
   * still allows when it has a memory limit.
   */
  memFreeBytes: number;
  /** The 1-minute load average, as `uptime` shows it. */
  load1: number;
  /** Bytes of the data dir's file system an unprivileged writer may still use; null when it could not be read. */
  diskFreeBytes: number | null;
}

const isFigure = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Figures another node published (its node record), or null when they are absent (an older version) or not figures. */
export function publishedFigures(value: unknown): HostFigures | null {
  if (value === null || typeof value !== 'object') return null;
  const { memFreeBytes, load1, diskFreeBytes } = value as Record<string, unknown>;
  if (!isFigure(memFreeBytes) || !isFigure(load1) || !(diskFreeBytes === null || isFigure(diskFreeBytes))) return null;
  return { memFreeBytes, load1, diskFreeBytes };
}

/** Where the figures come from; tests give their own. */
export interface FigureSources {
  /** The text of /proc/meminfo; null where there is none (not Linux). */
  meminfo(): string | null;
  /** What the OS calls free memory, where /proc/meminfo says nothing. */
  freemem(): number;
  /** Bytes the daemon's cgroup may still take under its memory limit; null when it has none. */
  cgroupHeadroom(): number | null;
  load1(): number;
  /** Free bytes of the file system holding `dir`, for an unprivileged writer; throws when it cannot tell. */
  diskFree(dir: string): number;
}

export interface FigureSamplerOptions {
  /** How long one sample is used; 1000 ms by default. */
  maxAgeMs?: number;
  /** A monotonic clock in ms; performance.now by default. */
  now?: () => number;
  sources?: Partial<FigureSources>;
}

export const SYSTEM_FIGURE_SOURCES: FigureSources = {
  meminfo() {
    try {
      return readFileSync('/proc/meminfo', 'latin1');
    } catch {
      return null;
    }
  },
  freemem,
  cgroupHeadroom() {
    // constrainedMemory() is 0, or a huge number, without a limit; availableMemory() is Node 20.13+.
    const limit = process.constrainedMemory?.() ?? 0;
    if (!(limit > 0 && limit < totalmem()) || typeof process.availableMemory !== 'function') return null;
    return process.availableMemory();
  },
  load1: () => loadavg()[0],
  diskFree(dir) {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  },
};

const MEM_AVAILABLE = /^MemAvailable:\s+(\d+) kB$/m;

/**
 * Free memory is MemAvailable from /proc/meminfo, not MemFree: a host that
 * has been up a while holds most of its memory as page cache, which the
 * kernel gives back to a process that asks, so MemFree would make every
 * busy host look full. (Recent libuv reads the same for os.freemem(), older
 * ones MemFree: reading it here does not depend on the Node build.)
 */
export class HostFigureSampler {
  private readonly sources: FigureSources;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private last: { atMs: number; figures: HostFigures } | null = null;

  constructor(
    /** The daemon's data dir: `disk` is the room its run records (and usually the jobs' files) have. */
    private readonly dataDir: string,
    opts: FigureSamplerOptions = {},
  ) {
    this.sources = { ...SYSTEM_FIGURE_SOURCES, ...opts.sources };
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.now = opts.now ?? (() => performance.now());
  }

  /** The figures now, or as sampled less than `maxAgeMs` ago. */
  sample(): HostFigures {
    const nowMs = this.now();
    if (this.last !== null && nowMs - this.last.atMs < this.maxAgeMs && nowMs >= this.last.atMs) return this.last.figures;
    const figures = Object.freeze({ memFreeBytes: this.memFree(), load1: this.sources.load1(), diskFreeBytes: this.diskFree() });
    this.last = { atMs: nowMs, figures };
    return figures;
  }

  private memFree(): number {
    const match = MEM_AVAILABLE.exec(this.sources.meminfo() ?? '');
    const available = match === null ? this.sources.freemem() : Number(match[1]) * 1024;
    const headroom = this.sources.cgroupHeadroom();
    return headroom === null ? available : Math.max(0, Math.min(available, headroom));
  }

  private diskFree(): number | null {
    try {
      const bytes = this.sources.diskFree(this.dataDir);
      return Number.isFinite(bytes) && bytes >= 0 ? bytes : null;
    } catch {
      return null;
    }
  }
}
