/**
 * Entry of the spawn worker: a small process of its own, beside the daemon,
 * that runs jobs (ProcessRun, unchanged). Node's spawn() forks its caller
 * and blocks it until the child has exec'd, and fork copies the caller's
 * page tables: 1.3 ms per job from a 56 MB process, 2.7 ms from a 170 MB
 * daemon. From a worker thread the daemon's loop no longer waited, but every
 * fork still copied the daemon's memory map: 100 jobs due at once started
 * 1.7x slower than from a bare Node process. From here they start as fast.
 * The executor's side is process-spawner.ts.
 */
import { startProcess, type ProcessResult, type RunningProcess } from './process-runner.js';
import type { FromWorker, SpawnOptions, ToWorker } from './spawn-protocol.js';
import { SpawnWorkerMisuseError } from './errors.js';

if (!process.send) throw new SpawnWorkerMisuseError('spawn-worker.js runs as the daemon\'s spawn process (see process-spawner.ts), not as a script');
const runs = new Map<number, RunningProcess>();

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'start') start(msg.id, msg.options);
  else runs.get(msg.id)?.kill(msg.reason);
});
// Signals for the daemon (a terminal's ^C, systemd's stop) reach this process too: the daemon
// decides what its jobs get. It goes when the daemon does, as a thread of it would.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
process.on('disconnect', () => process.exit(0));

function start(id: number, options: SpawnOptions): void {
  let run;
  try {
    run = startProcess({
      ...options,
      // Serialization writes only the chunk's own bytes, even when it is a view into a pooled buffer.
      onOutput: ({ stream, data, tsMs }) => post({ type: 'output', id, stream, data, tsMs }),
    });
  } catch (err) {
    // The executor validated the options already; if that ever disagrees, fail this run, not every run here.
    post({ type: 'started', id, pid: 0, startedMs: Date.now() });
    post({ type: 'done', id, result: rejected(err) });
    return;
  }
  runs.set(id, run);
  post({ type: 'started', id, pid: run.pid, startedMs: run.startedMs });
  void run.done.then((result) => {
    runs.delete(id);
    post({ type: 'done', id, result });
  });
}

function rejected(err: unknown): ProcessResult {
  const spawnError = `invalid options: ${err instanceof Error ? err.message : String(err)}`;
  return { exitCode: null, signal: null, endedMs: Date.now(), outputBytes: 0, truncated: false, killedFor: null, spawnError, runnerError: null };
}

function post(msg: FromWorker): void {
  // Gone only with the daemon ('disconnect' ends this process), so nothing to report to.
  if (process.connected) process.send!(msg);
}
