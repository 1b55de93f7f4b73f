import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '../../src/daemon/control/client.js';
import { socketPath } from '../../src/daemon/paths.js';
import { waitFor } from './wait.js';

export const DCRON_BIN = new URL('../../../bin/dcron', import.meta.url).pathname;

/** A temp directory holding a crontab and a data dir, removed by cleanup(). */
export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'dcron-test-'));
  readonly dataDir = join(this.dir, 'data');
  readonly crontab = join(this.dir, 'crontab');

  writeCrontab(text: string): void {
    writeFileSync(this.crontab, text);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `bin/dcron` with the workspace's data dir. */
export function cli(args: string[], opts: { dataDir?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    if (opts.dataDir) env.DCRON_DATA_DIR = opts.dataDir;
    const child = spawn(process.execPath, [DCRON_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dcron ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A real `dcron daemon` process. */
export class DaemonProcess {
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess, readonly dataDir: string) {
    child.stderr!.on('data', (d) => (this.stderr += d));
    child.stdout!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  static async start(ws: Workspace, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> {
    return DaemonProcess.launch({ dataDir: ws.dataDir, args: ['--crontab', ws.crontab, '--node-id', 'test-node', ...extraArgs], env });
  }

  /** Starts `dcron daemon` with the given flags and waits until it answers on its socket. */
  static async launch(opts: { dataDir: string; args: string[]; env?: NodeJS.ProcessEnv }): Promise<DaemonProcess> {
    const child = spawn(process.execPath, [DCRON_BIN, 'daemon', '--data-dir', opts.dataDir, ...opts.args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const d = new DaemonProcess(child, opts.dataDir);
    let exitedEarly = false;
    void d.exited.then(() => (exitedEarly = true));
    await waitFor('the daemon to answer on its socket', async () => {
      if (exitedEarly) throw new Error(`daemon exited during start:\n${d.stderr}`);
      const c = await ControlClient.connect(socketPath(opts.dataDir), 500);
      await c.call('status');
      c.close();
      return true;
    }, 20_000).catch((err: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${err.message}\ndaemon output:\n${d.stderr.slice(-3000)}`);
    });
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  async call<T>(method: string, params: unknown = {}): Promise<T> {
    const c = await ControlClient.connect(socketPath(this.dataDir));
    try {
      return await c.callUnchecked<T>(method, params);
    } finally {
      c.close();
    }
  }
}

/** Kills a process group if it is still there (cleanup of orphaned jobs). */
export function killGroup(pid: number): void {
  // -0 is this test's own group and -1 every process: a pid read wrong must not take the run down.
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new RangeError(`not a process group to kill: ${pid}`);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
