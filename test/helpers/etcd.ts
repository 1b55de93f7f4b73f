import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.js';

const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

/** A free loopback port. The OS picks it; another test may take it before etcd binds it (see EtcdCluster.start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | null;
  log: string;
  /** Command prefix the member runs under (empty: run etcd directly). */
  wrap: string[];
}

export interface EtcdLayout {
  host?: (i: number) => string;
  wrap?: (i: number) => string[];
}

const MAX_START_ATTEMPTS = 5;

/** Members on fresh ports, with data dirs under `root`. */
async function pickMembers(size: number, layout: EtcdLayout, root: string): Promise<EtcdMember[]> {
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const host = layout.host?.(i) ?? '127.0.0.1';
    members.push({
      name: `m${i}`,
      clientUrl: `http://${host}:${await freePort()}`,
      peerUrl: `http://${host}:${await freePort()}`,
      wrap: layout.wrap?.(i) ?? [],
      dataDir: join(root, `m${i}`),
      process: null,
      log: '',
    });
  }
  return members;
}

/**
 * A real etcd (one member or several) on loopback, with temporary data dirs
 * and no fsync. Members can be stopped and started again to simulate faults.
 */
export class EtcdCluster {
  private constructor(readonly members: EtcdMember[], private readonly root: string, private readonly extraArgs: string[]) {}

  /**
   * `layout` places members elsewhere than 127.0.0.1: `host(i)` is the
   * address member i listens on, `wrap(i)` a command prefix to run it
   * under (e.g. `ip netns exec NAME`, for partition tests).
   */
  static async start(size = 1, extraArgs: string[] = [], layout: EtcdLayout = {}): Promise<EtcdCluster> {
    for (let attempt = 1; ; attempt++) {
      const root = mkdtempSync(join(tmpdir(), 'dcron-etcd-'));
      const cluster = new EtcdCluster(await pickMembers(size, layout, root), root, extraArgs);
      try {
        for (let i = 0; i < size; i++) cluster.spawnMember(i, 'new');
        await cluster.waitHealthy();
        return cluster;
      } catch (err) {
        // Members left running would keep the test process alive after its failure.
        await cluster.stop();
        // freePort's race: another test took a port between its pick and etcd's bind.
        if (attempt < MAX_START_ATTEMPTS && cluster.members.some((m) => m.log.includes('address already in use'))) continue;
        throw err;
      }
    }
  }

  /** Client endpoints, comma-separated, as `--etcd` takes them. */
  get endpoints(): string {
    return this.members.map((m) => m.clientUrl).join(',');
  }

  get hosts(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  async stopMember(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.members[i].process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill(signal);
    await exited;
    this.members[i].process = null;
  }

  async startMember(i: number): Promise<void> {
    this.spawnMember(i, 'existing');
    await this.waitHealthy([i]);
  }

  async restart(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.stopMember(i);
    for (let i = 0; i < this.members.length; i++) this.spawnMember(i, 'existing');
    await this.waitHealthy();
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.stopMember(i, 'SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }

  private spawnMember(i: number, state: 'new' | 'existing'): void {
    const m = this.members[i];
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', state,
      '--initial-cluster-token', 'dcron-test',
      '--unsafe-no-fsync',
      '--logger', 'zap',
      '--log-level', 'warn',
      ...this.extraArgs,
    ];
    // `ip netns exec` execs etcd in place, so the child's pid is etcd's either way.
    const [cmd, ...pre] = [...m.wrap, ETCD_BIN];
    const p = spawn(cmd, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    m.log = '';
    p.stdout!.on('data', (d) => (m.log += d));
    p.stderr!.on('data', (d) => (m.log += d));
    m.process = p;
  }

  /** Polls each member's /health until it reports true (quorum and a leader). */
  async waitHealthy(which: number[] = this.members.map((_, i) => i), timeoutMs = 20_000): Promise<void> {
    for (const i of which) {
      const m = this.members[i];
      await waitFor(`etcd member ${m.name} to be healthy`, async () => {
        if (m.process && m.process.exitCode !== null) throw new Error(`etcd ${m.name} exited: ${m.log.slice(-2000)}`);
        const res = await fetch(`${m.clientUrl}/health`);
        const body = (await res.json()) as { health?: string };
        return body.health === 'true';
      }, timeoutMs, 50);
    }
  }
}
