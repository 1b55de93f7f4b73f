/**
 * Entry of the spawn worker: runs jobs (ProcessRun, unchanged) on a thread of
 * their own. Node's spawn() blocks its thread until the child has exec'd,
 * milliseconds per job in a daemon of some size, and at tens of jobs per
 * second that held up the daemon's timers, claims and records. Here it only
 * holds up other spawns. The executor's side is process-spawner.ts.
 */
import { parentPort } from 'node:worker_threads';
import { startProcess, type ProcessResult, type RunningProcess } from './process-runner.js';
import { ownBytes, type FromWorker, type SpawnOptions, type ToWorker } from './spawn-protocol.js';
import { SpawnWorkerMisuseError } from './errors.js';

if (parentPort === null) throw new SpawnWorkerMisuseError('spawn-worker.js runs as a worker thread (see process-spawner.ts), not as a script');
const port = parentPort;
const runs = new Map<number, RunningProcess>();

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'start') start(msg.id, msg.options);
  else runs.get(msg.id)?.kill(msg.reason);
});

function start(id: number, options: SpawnOptions): void {
  let run;
  try {
    run = startProcess({
      ...options,
      onOutput: ({ stream, data, tsMs }) => {
        const bytes = ownBytes(data);
        post({ type: 'output', id, stream, data: bytes, tsMs }, [bytes.buffer]);
      },
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

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}
