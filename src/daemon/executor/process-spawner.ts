/**
 * Where the executor starts jobs. Node's spawn() blocks its thread until the
 * child has exec'd: 1-3 ms per job in a quiet daemon, 6-9 ms under load,
 * which at 80-100 jobs/s was half the daemon's main-thread time and delayed
 * its timers, claims and records; and fork's cost grows with the caller's
 * memory. The worker spawner runs jobs in a small process of its own
 * (spawn-worker.ts) and hands back a proxy that behaves like a run started
 * here, except that its pid arrives a little later.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { signalGroup } from './process-group.js';
import {
  startProcess,
  systemNote,
  validateOptions,
  type KillReason,
  type OutputChunk,
  type ProcessOptions,
  type ProcessResult,
  type ProcessStart,
  type RunningProcess,
} from './process-runner.js';
import { asBuffer, type FromWorker, type SpawnOptions, type ToWorker } from './spawn-protocol.js';

export interface ProcessSpawner {
  /** Like startProcess: throws only InvalidProcessOptionsError, synchronously. */
  start(opts: ProcessOptions): RunningProcess;
  /** Stops starting jobs on another thread; runs still in flight end with `runnerError`. */
  close(): Promise<void>;
}

/** Spawns on the calling thread; the only way to honour an injected clock (`now`) in a run's times. */
export const inlineSpawner: ProcessSpawner = {
  start: startProcess,
  close: async () => {},
};

const SPAWN_WORKER_URL = new URL('./spawn-worker.js', import.meta.url);

/**
 * Starts jobs on a spawn worker. Times in results and output come from the
 * worker's wall clock; `now` is ignored. A worker that dies takes its runs
 * with it (their pipes were its): each ends with `runnerError` and its group
 * is killed, and the next start brings up a fresh worker.
 */
export class WorkerSpawner implements ProcessSpawner {
  readonly #links: Array<WorkerLink | null>;
  #nextId = 1;

  private readonly workerUrl: URL;

  constructor(
    private readonly log: Logger,
    opts: {
      /**
       * Worker processes (default 1). Each spawns one job at a time (fork, then
       * wait for the exec); two fork side by side, so a burst of jobs due at
       * once starts in about half the time on a machine with two cores or more.
       */
      workers?: number;
      /** Tests substitute a worker that can be made to crash. */
      workerUrl?: URL;
    } = {},
  ) {
    this.workerUrl = opts.workerUrl ?? SPAWN_WORKER_URL;
    // Up front, so the first job does not also wait for a worker to load.
    this.#links = Array.from({ length: opts.workers ?? 1 }, (_, slot) => this.#newLink(slot));
  }

  start(opts: ProcessOptions): RunningProcess {
    validateOptions(opts);
    const { onOutput, now: _ignored, ...options } = opts;
    const slot = this.#leastBusy();
    const link = (this.#links[slot] ??= this.#newLink(slot));
    return link.start(this.#nextId++, options, onOutput);
  }

  async close(): Promise<void> {
    const links = [...this.#links];
    this.#links.fill(null);
    await Promise.all(links.map((link) => link?.close()));
  }

  /** The slot whose worker has the fewest runs in flight (a dead worker's slot counts as idle). */
  #leastBusy(): number {
    let best = 0;
    for (let slot = 1; slot < this.#links.length; slot++) if ((this.#links[slot]?.inFlight ?? 0) < (this.#links[best]?.inFlight ?? 0)) best = slot;
    return best;
  }

  #newLink(slot: number): WorkerLink {
    const link = new WorkerLink(this.workerUrl, (cause, inFlight) => {
      if (this.#links[slot] === link) this.#links[slot] = null;
      this.log.error('spawn worker died; its runs are recorded as failed, the next run starts a new worker', { cause, runs: inFlight });
    });
    return link;
  }
}

/** How long close() waits for the worker to leave on its own before it is killed. */
const CLOSE_GRACE_MS = 2000;

/** One worker process and the runs it holds. */
class WorkerLink {
  readonly #worker: ChildProcess;
  readonly #runs = new Map<number, WorkerRun>();
  readonly #exited: Promise<void>;
  #closing = false;
  #error: unknown = null;

  constructor(url: URL, onDeath: (cause: string, inFlight: number) => void) {
    // Not the daemon's node flags: some only make sense for a main script (--input-type) and fail the worker.
    // Same process group as the daemon, so whatever stops the daemon's group stops it too; its stderr is the daemon's.
    this.#worker = fork(fileURLToPath(url), [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    // Idle, it must not keep the daemon (or a test) alive; while runs are in flight it does, as their pipes would.
    this.#setRef(false);
    this.#worker.on('message', (msg: FromWorker) => this.#receive(msg));
    this.#worker.on('error', (err) => (this.#error ??= err));
    this.#exited = new Promise((resolve) =>
      this.#worker.on('exit', (code, signal) => {
        const cause = this.#closing ? 'the executor closed' : describeDeath(this.#error, code, signal);
        const inFlight = this.#runs.size;
        for (const run of this.#runs.values()) run.lose(cause);
        this.#runs.clear();
        if (!this.#closing) onDeath(cause, inFlight);
        resolve();
      }),
    );
  }

  get inFlight(): number {
    return this.#runs.size;
  }

  start(id: number, options: SpawnOptions, onOutput: (chunk: OutputChunk) => void): RunningProcess {
    const run = new WorkerRun(onOutput, (reason) => this.#post({ type: 'kill', id, reason }));
    this.#runs.set(id, run);
    if (this.#runs.size === 1) this.#setRef(true);
    this.#post({ type: 'start', id, options });
    return run;
  }

  /** Closing the channel ends the worker; one that does not go in time is killed. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#worker.connected) this.#worker.disconnect();
    const timer = setTimeout(() => this.#worker.kill('SIGKILL'), CLOSE_GRACE_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  #receive(msg: FromWorker): void {
    const run = this.#runs.get(msg.id);
    if (!run) return;
    run.receive(msg);
    if (msg.type !== 'done') return;
    this.#runs.delete(msg.id);
    if (this.#runs.size === 0) this.#setRef(false);
  }

  #post(msg: ToWorker): void {
    // A worker that died is reported by 'exit', which ends its runs.
    if (this.#worker.connected) this.#worker.send(msg, (err) => err && (this.#error ??= err));
  }

  #setRef(ref: boolean): void {
    // The IPC channel is a handle of its own: both must be released for an idle daemon (or test) to exit.
    for (const handle of [this.#worker, this.#worker.channel]) {
      if (ref) handle?.ref();
      else handle?.unref();
    }
  }
}

function describeDeath(error: unknown, code: number | null, signal: NodeJS.Signals | null): string {
  if (error !== null) return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}

/** The executor's handle on a run in the worker: same contract as ProcessRun, pid on a promise. */
class WorkerRun implements RunningProcess {
  readonly started: Promise<ProcessStart>;
  readonly done: Promise<ProcessResult>;
  #resolveStarted!: (start: ProcessStart) => void;
  #resolveDone!: (result: ProcessResult) => void;
  #pid = 0;
  #settled = false;
  #outputBytes = 0;
  #atLineStart = true;

  constructor(
    private readonly onOutput: (chunk: OutputChunk) => void,
    private readonly sendKill: (reason: KillReason) => void,
  ) {
    this.started = new Promise((resolve) => (this.#resolveStarted = resolve));
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Forwarded at once: the worker gets it after the start, so it lands even before the pid is known here. */
  readonly kill = (reason: KillReason): void => {
    if (!this.#settled) this.sendKill(reason);
  };

  receive(msg: FromWorker): void {
    switch (msg.type) {
      case 'started':
        this.#pid = msg.pid;
        this.#resolveStarted({ pid: msg.pid, startedMs: msg.startedMs });
        return;
      case 'output':
        if (msg.stream !== 'system') this.#outputBytes += msg.data.byteLength;
        this.#deliver({ stream: msg.stream, data: asBuffer(msg.data), tsMs: msg.tsMs });
        return;
      case 'done':
        this.#settle(msg.result);
        return;
    }
  }

  /**
   * The worker is gone, and with it the pipes and the timers of this run: no
   * output can be read, no timeout or kill carried out. Kill the group now
   * rather than leave it running unseen beside the next tick.
   */
  lose(cause: string): void {
    if (this.#settled) return;
    const runnerError = this.#pid === 0
      ? `dcron's spawn worker ended (${cause}) before it confirmed the job started`
      : `dcron's spawn worker ended (${cause}): stopped following the job and killed its process group`;
    if (this.#pid !== 0) signalGroup(this.#pid, 'SIGKILL');
    this.#deliver({ stream: 'system', data: systemNote(runnerError, this.#atLineStart), tsMs: Date.now() });
    this.#resolveStarted({ pid: 0, startedMs: Date.now() });
    this.#settle({ exitCode: null, signal: null, endedMs: Date.now(), outputBytes: this.#outputBytes, truncated: false, killedFor: null, spawnError: null, runnerError });
  }

  #deliver(chunk: OutputChunk): void {
    if (chunk.data.length > 0) this.#atLineStart = chunk.data[chunk.data.length - 1] === 0x0a;
    this.onOutput(chunk);
  }

  #settle(result: ProcessResult): void {
    this.#settled = true;
    this.#resolveDone(result);
  }
}
