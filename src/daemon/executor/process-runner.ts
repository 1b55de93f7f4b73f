import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDuration } from '../duration.js';
import { MAX_TIMER_MS } from '../config/timer-limit.js';
import { errnoCode } from '../errno.js';
import { InvalidProcessOptionsError } from './errors.js';
import { OutputCap } from './output-cap.js';
import { isGroupAlive, signalGroup } from './process-group.js';

export type KillReason = 'killed' | 'timeout' | 'replaced' | 'lost' | 'shutdown';

export interface OutputChunk {
  /** `system` chunks are dcron's own notes (kill, truncation); they do not count towards the cap. */
  stream: 'stdout' | 'stderr' | 'system';
  data: Buffer;
  tsMs: number;
}

export interface ProcessOptions {
  shell: string;
  command: string;
  /** The job's standard input (the crontab's `%` text); null: /dev/null. */
  stdin: string | null;
  cwd: string;
  /** The complete environment: nothing of the daemon's is added. */
  env: Record<string, string>;
  timeoutMs: number | null;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** How long the run waits, once the shell has exited, for its output to close (default 5 s). */
  outputLingerMs?: number;
  maxOutputBytes: number;
  /** Called synchronously for every chunk, in arrival order; must not throw. */
  onOutput(chunk: OutputChunk): void;
  now?: () => number;
}

export interface ProcessStart {
  /** Pid of the shell, also the id of the job's process group; 0 if it could not be started. */
  pid: number;
  startedMs: number;
}

/**
 * A run wherever it was started. Its pid may only be known later (a run
 * started by the spawn worker, see process-spawner.ts), so it comes as a promise.
 */
export interface RunningProcess {
  /** Settles before `done` and never rejects: pid 0 if the job could not be started. */
  started: Promise<ProcessStart>;
  /** Stops the job (see ProcessRun.kill); a no-op once done or already being killed. Lands even before `started` settles. */
  kill(reason: KillReason): void;
  /** Never rejects: a job that could not start resolves with `spawnError`. */
  done: Promise<ProcessResult>;
}

/** A run started on the calling thread: its pid is known as soon as startProcess returns. */
export interface InlineProcess extends RunningProcess, ProcessStart {}

export interface ProcessResult {
  /** Of the shell; null if it died by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  endedMs: number;
  /** Every byte the job wrote, including what the cap dropped. */
  outputBytes: number;
  truncated: boolean;
  killedFor: KillReason | null;
  spawnError: string | null;
  /** dcron lost the run after asking for it to start (its spawn worker died); the job's output stops there. */
  runnerError: string | null;
}


const DEFAULT_OUTPUT_LINGER_MS = 5000;

/**
 * Starts `shell -c command` as the leader of a new process group and reports
 * its output and end. Throws only InvalidProcessOptionsError (a caller bug);
 * anything that goes wrong with the job itself ends up in the result.
 */
export function startProcess(opts: ProcessOptions): InlineProcess {
  validateOptions(opts);
  return new ProcessRun(opts);
}

/** Throws InvalidProcessOptionsError for options no run could honour. */
export function validateOptions(opts: ProcessOptions): void {
  if (!Number.isSafeInteger(opts.maxOutputBytes) || opts.maxOutputBytes < 0) {
    throw new InvalidProcessOptionsError(`maxOutputBytes must be a whole number >= 0, got ${opts.maxOutputBytes}`);
  }
  if (opts.timeoutMs !== null && !isTimerDelay(opts.timeoutMs, 1)) {
    throw new InvalidProcessOptionsError(`timeoutMs must be null or 1..${MAX_TIMER_MS}, got ${opts.timeoutMs}`);
  }
  if (!isTimerDelay(opts.killGraceMs, 0)) {
    throw new InvalidProcessOptionsError(`killGraceMs must be 0..${MAX_TIMER_MS}, got ${opts.killGraceMs}`);
  }
  if (opts.outputLingerMs !== undefined && !isTimerDelay(opts.outputLingerMs, 0)) {
    throw new InvalidProcessOptionsError(`outputLingerMs must be 0..${MAX_TIMER_MS}, got ${opts.outputLingerMs}`);
  }
}

function isTimerDelay(ms: number, min: number): boolean {
  return Number.isFinite(ms) && ms >= min && ms <= MAX_TIMER_MS;
}

/**
 * One run of one command.
 *
 * The run is done when the shell has exited AND its stdout and stderr are
 * closed, so what background processes print shortly after the shell is
 * still caught. Processes the job left running with the pipes open (`(server
 * &)`, a double fork) do not hold the run for longer than `outputLingerMs`
 * after the shell: waiting for them, as cron does, kept the run "running"
 * as long as they lived, and with overlap=skip no tick of the job ran again.
 * The run then ends with the shell's status, the pipes are still read (so
 * the processes never die of a broken pipe) and what they print is dropped;
 * like a background process that redirected its output away, they are left
 * running, as cron leaves them.
 *
 * After a kill, the run is done only once nothing in the group is running, or
 * the group got SIGKILL, so "done" means the job's processes are gone.
 */
class ProcessRun implements InlineProcess {
  readonly pid: number;
  readonly startedMs: number;
  readonly started: Promise<ProcessStart>;
  readonly done: Promise<ProcessResult>;

  readonly #opts: ProcessOptions;
  readonly #now: () => number;
  readonly #cap: OutputCap;
  readonly #timers = new Set<NodeJS.Timeout>();
  #resolve!: (result: ProcessResult) => void;
  #child: ChildProcess | null = null;
  #exit: { code: number | null; signal: string | null } | null = null;
  /** The shell's own end, which can come before its pipes close. */
  #shellExit: { code: number | null; signal: string | null } | null = null;
  #killedFor: KillReason | null = null;
  #graceOver = false;
  #settled = false;
  /** Whether the last delivered byte ended a line, so notes start on a line of their own. */
  #atLineStart = true;

  constructor(opts: ProcessOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#cap = new OutputCap(opts.maxOutputBytes);
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    let child: ChildProcess | null = null;
    let spawnFailure: unknown = null;
    try {
      child = spawnShell(opts);
    } catch (err) {
      spawnFailure = err;
    }
    this.startedMs = this.#now();
    this.pid = child?.pid ?? 0;
    this.started = Promise.resolve({ pid: this.pid, startedMs: this.startedMs });
    if (child === null) {
      // Some failures (cwd not a directory, invalid arguments) throw instead of
      // emitting 'error'; defer so callbacks never run before we return.
      process.nextTick(() => this.#failSpawn(spawnFailure));
    } else if (this.pid === 0) {
      child.once('error', (err) => this.#failSpawn(err));
    } else {
      this.#child = child;
      this.#watch(child);
    }
  }

  /**
   * SIGTERM to the whole group, then after killGraceMs SIGKILL to the group if
   * anything in it still runs. A kill before the job ends sets `killedFor`,
   * even if the job then exits 0 on SIGTERM.
   */
  readonly kill = (reason: KillReason): void => {
    if (this.#settled || this.#killedFor !== null || this.pid === 0) return;
    this.#killedFor = reason;
    this.#note(`${describeKill(reason, this.#opts.timeoutMs)}, sent SIGTERM to process group`);
    signalGroup(this.pid, 'SIGTERM');
    this.#after(this.#opts.killGraceMs, () => this.#endGrace());
  };

  #watch(child: ChildProcess): void {
    child.stdout!.on('data', (data: Buffer) => this.#onJobOutput('stdout', data));
    child.stderr!.on('data', (data: Buffer) => this.#onJobOutput('stderr', data));
    child.on('exit', (code, signal) => this.#onShellExit(code, signal));
    child.on('close', (code, signal) => this.#onClose(code, signal));
    const { timeoutMs } = this.#opts;
    if (timeoutMs !== null) this.#after(timeoutMs, () => this.kill('timeout'));
  }

  /** Past the cap the pipes are still read and the data dropped, so the job never blocks on a full pipe. */
  #onJobOutput(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.#settled) return; // from processes left in the background: the run is over
    const tsMs = this.#now();
    const { keep, crossed } = this.#cap.admit(data);
    if (keep.length > 0) this.#deliver(stream, keep, tsMs);
    if (crossed) this.#note(this.#cap.note);
  }

  #onShellExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#settled) return;
    this.#shellExit = { code, signal };
    this.#after(this.#opts.outputLingerMs ?? DEFAULT_OUTPUT_LINGER_MS, () => this.#stopWaitingForOutput());
  }

  /** The shell is gone and the pipes are still open: background processes hold them. */
  #stopWaitingForOutput(): void {
    // A kill has its own end: the group is signalled, then the pipes let go.
    if (this.#settled || this.#killedFor !== null) return;
    this.#note('the job exited, but processes it left in the background still hold its output: left them running, and dropped what they print (redirect their output, e.g. cmd >/dev/null 2>&1 &)');
    this.#exit = this.#shellExit;
    this.#finish();
  }

  #onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#settled) return;
    this.#exit = { code, signal };
    if (this.#killedFor === null || this.#graceOver) this.#finish();
    else this.#finishOnceGroupGone();
  }

  /**
   * After a kill, a group member can outlive the shell's close: it ignores
   * SIGTERM and closed its output, or it is still exiting (a process closes
   * its files before it turns zombie). Poll, backing off, until the group is
   * empty; the end of the grace period SIGKILLs whatever is left and finishes.
   */
  #finishOnceGroupGone(delayMs = 5): void {
    if (!isGroupAlive(this.pid)) {
      this.#finish();
      return;
    }
    this.#after(delayMs, () => this.#finishOnceGroupGone(Math.min(delayMs * 2, 250)));
  }

  #endGrace(): void {
    this.#graceOver = true;
    if (isGroupAlive(this.pid)) {
      signalGroup(this.pid, 'SIGKILL');
      this.#note(`process group still running ${formatDuration(this.#opts.killGraceMs)} after SIGTERM, sent SIGKILL`);
    }
    if (this.#exit !== null) this.#finish();
    else this.#after(this.#opts.killGraceMs, () => this.#releasePipes());
  }

  /**
   * The group is dead but the pipes are still open: a process that left the
   * group (setsid, a double-forking daemon) holds them and no signal of ours
   * reaches it. Stop reading so the run can end rather than hang forever.
   */
  #releasePipes(): void {
    this.#note('output still held open by a process outside the process group, stopped reading it');
    this.#child!.stdout!.destroy();
    this.#child!.stderr!.destroy();
  }

  #failSpawn(err: unknown): void {
    const spawnError = describeSpawnError(err, this.#opts.shell, this.#opts.cwd);
    this.#note(`could not start: ${spawnError}`);
    this.#settle({ exitCode: null, signal: null, spawnError });
  }

  #finish(): void {
    const { code, signal } = this.#exit!;
    this.#settle({ exitCode: code, signal, spawnError: null });
  }

  #settle(outcome: Pick<ProcessResult, 'exitCode' | 'signal' | 'spawnError'>): void {
    this.#settled = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#resolve({
      ...outcome,
      endedMs: this.#now(),
      outputBytes: this.#cap.seenBytes,
      truncated: this.#cap.truncated,
      killedFor: this.#killedFor,
      runnerError: null,
    });
  }

  #note(text: string): void {
    this.#deliver('system', systemNote(text, this.#atLineStart), this.#now());
  }

  #deliver(stream: OutputChunk['stream'], data: Buffer, tsMs: number): void {
    this.#atLineStart = data[data.length - 1] === 0x0a;
    this.#opts.onOutput({ stream, data, tsMs });
  }

  #after(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, ms);
    this.#timers.add(timer);
  }
}

/** dcron's own line in a job's output; `atLineStart`: whether the output so far ends a line. */
export function systemNote(text: string, atLineStart: boolean): Buffer {
  return Buffer.from(`${atLineStart ? '' : '\n'}[dcron: ${text}]\n`);
}

/** Throws when the job cannot be started; the descriptor of its `%` input is closed either way. */
function spawnShell(opts: ProcessOptions): ChildProcess {
  let stdinFd: number | null = null;
  try {
    stdinFd = opts.stdin === null ? null : stdinFile(opts.stdin);
    return spawn(opts.shell, ['-c', opts.command], {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      // Never a socket on fd 0: Node's 'pipe' is a socketpair, and bash then
      // sources ~/.bashrc (its rshd check). /dev/null, or a file holding the
      // `%` input, is what cron gives a job too (a pipe or nothing).
      stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'],
    });
  } finally {
    // The child has its own copy of the descriptor; the file is already unlinked.
    if (stdinFd !== null) closeSync(stdinFd);
  }
}

function describeKill(reason: KillReason, timeoutMs: number | null): string {
  switch (reason) {
    case 'timeout':
      return timeoutMs === null ? 'timed out' : `timeout after ${formatDuration(timeoutMs)}`;
    case 'killed':
      return 'killed on request';
    case 'replaced':
      return 'replaced by a newer run';
    case 'lost':
      return 'this host lost the job (lease lost)';
    case 'shutdown':
      return 'daemon shutting down';
  }
}

/**
 * spawn blames the shell (ENOENT) when the working directory is missing, so
 * look at the directory first to tell the user which one is wrong.
 */
function describeSpawnError(err: unknown, shell: string, cwd: string): string {
  return workingDirectoryProblem(cwd) ?? shellProblem(err, shell);
}

function workingDirectoryProblem(cwd: string): string | null {
  try {
    if (!statSync(cwd).isDirectory()) return `working directory is not a directory: ${cwd}`;
    accessSync(cwd, constants.X_OK);
    return null;
  } catch (err) {
    return errnoCode(err) === 'ENOENT'
      ? `working directory does not exist: ${cwd}`
      : `working directory is not accessible: ${cwd}`;
  }
}

function shellProblem(err: unknown, shell: string): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return `shell not found: ${shell}`;
    case 'EACCES':
      return `shell is not executable: ${shell}`;
    default:
      return `cannot run shell ${shell}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * A read descriptor on a private, already unlinked file holding `text`: the
 * job reads its `%` input from it as from a pipe, and nothing is left behind.
 */
function stdinFile(text: string): number {
  const dir = mkdtempSync(join(tmpdir(), 'dcron-stdin-'));
  const path = join(dir, 'stdin');
  try {
    writeFileSync(path, text, { mode: 0o600 });
    return openSync(path, 'r');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
