import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';

const GUARD_SCRIPT = fileURLToPath(new URL('./job-guard-process.js', import.meta.url));

/**
 * The daemon's end of the job guard (job-guard-process.ts): tells it which
 * process groups are jobs and how long the lease is proven, so the jobs die
 * with the daemon or with its lease even when the daemon cannot act.
 */
export class JobGuard {
  private child: ChildProcess | null = null;
  private readonly groups = new Map<number, boolean>();
  private lastProof: string = 'n';
  private closed = false;

  constructor(private readonly log: Logger) {
    this.spawn();
  }

  watch(pgid: number, killOnLost: boolean): void {
    this.groups.set(pgid, killOnLost);
    this.send(`+ ${pgid} ${killOnLost ? 'k' : 'f'}`);
  }

  unwatch(pgid: number): void {
    if (this.groups.delete(pgid)) this.send(`- ${pgid}`);
  }

  /** The lease is proven for `ms` more: past that, unless told again, the guard kills on-lost=kill jobs. */
  provenFor(ms: number): void {
    this.lastProof = `p ${Math.max(0, Math.floor(ms))}`;
    this.send(this.lastProof);
  }

  /** Ends the guard; it kills whatever on-lost=kill job is still registered. */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
    this.child = null;
  }

  private spawn(): void {
    // Same process group as the daemon, so whatever stops the daemon's group stops the guard;
    // it ignores the polite signals and leaves when its input ends.
    const child = spawn(process.execPath, [GUARD_SCRIPT], { stdio: ['pipe', 'ignore', 'inherit'] });
    child.stdin!.on('error', () => {}); // reported by 'exit'
    child.on('exit', (code, signal) => {
      if (this.closed || this.child !== child) return;
      this.log.error('job guard exited; starting a new one', { code, signal });
      this.spawn();
    });
    this.child = child;
    for (const [pgid, k] of this.groups) this.send(`+ ${pgid} ${k ? 'k' : 'f'}`);
    this.send(this.lastProof);
  }

  private send(line: string): void {
    if (this.child?.stdin?.writable) this.child.stdin.write(`${line}\n`);
  }
}
