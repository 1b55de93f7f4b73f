/**
 * The job guard: a small process beside the daemon that kills the daemon's
 * jobs when the daemon can no longer answer for them. A daemon killed by
 * SIGKILL cannot stop its jobs, and a daemon stopped by SIGSTOP cannot
 * notice that its lease is about to expire; either way its jobs would run
 * on while another host, seeing the lease gone, starts the next tick of an
 * overlap=skip job or reruns a failover=rerun tick.
 *
 * Protocol, one line each on stdin from the daemon:
 *   + PGID k|f   a job's process group; k: kill it when the daemon is lost (on-lost=kill)
 *   - PGID       the job ended
 *   p MS         the daemon's lease is proven for MS more milliseconds
 *   n            the daemon has no lease (single host): no deadline
 * End of input means the daemon is gone: its on-lost=kill jobs are killed.
 */
import { createInterface } from 'node:readline';

const groups = new Map<number, boolean>();
let deadline: NodeJS.Timeout | null = null;
/** The last proof ran out and no new one came: a job started now would be started unproven. */
let lapsed = false;

function killLost(why: string): void {
  for (const [pgid, killOnLost] of groups) {
    if (!killOnLost) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
      process.stderr.write(`dcron job guard: killed process group ${pgid}: ${why}\n`);
    } catch {
      // already gone
    }
    groups.delete(pgid);
  }
}

// Signals for the daemon (a terminal's ^C, systemd's stop) reach the guard too;
// the daemon decides what its jobs get, and the guard goes when its input ends.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
// For whoever watches stdout (the tests): from here on the guard holds its ground.
process.stdout.write('ready\n');

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const [op, arg, flag] = line.split(' ');
    switch (op) {
      case '+':
        // Never 0 or 1: kill(-0) would be the guard's own group (the daemon's), kill(-1) every process.
        if (!/^\d+$/.test(arg ?? '') || Number(arg) <= 1) break;
        groups.set(Number(arg), flag === 'k');
        if (lapsed) killLost('started while the daemon could not prove its lease');
        break;
      case '-':
        groups.delete(Number(arg));
        break;
      case 'p':
        if (deadline) clearTimeout(deadline);
        lapsed = false;
        deadline = setTimeout(() => {
          deadline = null;
          lapsed = true;
          killLost('the daemon could not prove its lease in time (stalled or cut off)');
        }, Number(arg));
        break;
      case 'n':
        if (deadline) clearTimeout(deadline);
        deadline = null;
        lapsed = false;
        break;
    }
  })
  .on('close', () => {
    killLost('the daemon is gone');
    process.exit(0);
  });
