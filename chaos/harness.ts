/**
 * One chaos scenario's world: a real etcd (one member or three), three
 * `dcron daemon` processes with distinct node ids sharing the workload's
 * crontab, and the fault timeline. Faults are methods here; scenarios
 * (scenarios.ts) decide when to call them.
 */
import { execSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../test/helpers/etcd.js';
import { DaemonProcess } from '../test/helpers/daemon-process.js';
import { databasePath } from '../src/daemon/paths.js';
import type { FaultEvent, RecordedRun } from './checker.js';
import { runIdOf } from './concurrency.js';
import { LedgerFormatError, readLedger } from './ledger.js';
import { IsolatedHost } from './netns.js';
import { CuttableProxy } from './proxy.js';
import { CORE_JOBS, CORE_SLOTS, GROUP_LIMITS, writeWorkload, type WorkloadFiles, type WorkloadJob } from './workload.js';

export const NODE_IDS = ['n1', 'n2', 'n3'] as const;
export const LEASE_TTL_S = 3;
const STOP_TIMEOUT_MS = 20_000;
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

export interface HarnessOptions {
  etcdMembers: 1 | 3;
  /** Run etcd member 2 in its own network namespace, so it can be isolated. */
  isolatableMember?: boolean;
  /** Route n3's etcd traffic through a relay the harness can cut. */
  proxyN3?: boolean;
  /** n3 runs with no crontab and follows the cluster's job list. */
  n3FollowsCluster?: boolean;
  /** FAKETIME offsets per node id, e.g. { n2: '+5s' }. */
  clockOffsets?: Partial<Record<string, string>>;
  /** Mount a tmpfs of this many MiB as n3's data dir (disk-full faults). */
  n3TmpfsMiB?: number;
  /** The crontab's jobs (default CORE_JOBS). */
  jobs?: readonly WorkloadJob[];
  /** Every daemon's `--slots` (default CORE_SLOTS). */
  slots?: number;
}

interface NodeSlot {
  id: string;
  dataDir: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  proc: DaemonProcess | null;
  /** Output of the node's earlier processes (the current one's is in proc.stderr). */
  log: string;
}

let slotCounter = 0;

export class Harness {
  readonly faults: FaultEvent[] = [];
  /** What went wrong with the daemons themselves (they would not stop...). */
  readonly problems: string[] = [];
  readonly nodes: NodeSlot[] = [];
  proxy: CuttableProxy | null = null;
  netns: IsolatedHost | null = null;
  private tmpfs: string | null = null;

  private constructor(readonly dir: string, readonly etcd: EtcdCluster, readonly files: WorkloadFiles) {}

  static async start(opts: HarnessOptions): Promise<Harness> {
    const dir = mkdtempSync(join(tmpdir(), 'dcron-chaos-'));
    const files = writeWorkload(join(dir, 'work'), opts.jobs ?? CORE_JOBS);
    let netns: IsolatedHost | null = null;
    let etcd: EtcdCluster;
    if (opts.isolatableMember) {
      netns = IsolatedHost.create((process.pid * 8 + slotCounter++) % 4096);
      const ns = netns;
      etcd = await EtcdCluster.start(3, [], { host: (i) => (i === 2 ? ns.innerIp : ns.outerIp), wrap: (i) => (i === 2 ? ns.wrap() : []) });
    } else {
      etcd = await EtcdCluster.start(opts.etcdMembers);
    }
    const h = new Harness(dir, etcd, files);
    h.netns = netns;
    try {
      if (opts.proxyN3) {
        const first = new URL(etcd.hosts[0]);
        h.proxy = await CuttableProxy.start({ host: first.hostname, port: Number(first.port) });
      }
      if (opts.n3TmpfsMiB) h.tmpfs = mountTmpfs(join(dir, 'n3'), opts.n3TmpfsMiB);
      for (const id of NODE_IDS) {
        const endpoints = id === 'n3' && h.proxy ? h.proxy.url : etcd.endpoints;
        const crontab = id === 'n3' && opts.n3FollowsCluster ? [] : ['--crontab', files.crontab];
        const offset = opts.clockOffsets?.[id];
        // The same room on every host: --slots, and every group's limit (a host without it would never run the group's jobs).
        const room = ['--slots', String(opts.slots ?? CORE_SLOTS), ...Object.entries(GROUP_LIMITS).flatMap(([name, k]) => ['--group', `${name}=${k}`])];
        h.nodes.push({
          id,
          dataDir: join(dir, id),
          args: ['--etcd', endpoints, '--cluster', 'chaos', ...crontab, '--node-id', id, '--lease-ttl', `${LEASE_TTL_S}s`, '--drain-grace', '5s', '--log-level', 'warn', ...room],
          // libfaketime preloaded into the daemon: its jobs inherit it, so their ledger clock readings carry the offset (the checker puts it back).
          env: offset ? { LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {},
          proc: null,
          log: '',
        });
      }
      await Promise.all(h.nodes.map((n) => h.startNode(n.id)));
    } catch (err) {
      await h.close();
      throw err;
    }
    return h;
  }

  node(id: string): NodeSlot {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new RangeError(`no node ${id}`);
    return n;
  }

  async startNode(id: string): Promise<void> {
    const n = this.node(id);
    n.proc = await DaemonProcess.launch({ dataDir: n.dataDir, args: n.args, env: n.env });
    const proc = n.proc;
    // Every life of the node, in one log: each restart starts a new process.
    void proc.exited.then(() => (n.log += proc.stderr));
  }

  /** Records a fault around `work`, from its start to its end. */
  async fault<T>(what: string, work: () => Promise<T>, hosts?: string[]): Promise<T> {
    const startMs = Date.now();
    try {
      return await work();
    } finally {
      this.faults.push({ what, startMs, endMs: Date.now(), hosts });
    }
  }

  async kill9(id: string): Promise<void> {
    const n = this.node(id);
    await n.proc?.stop('SIGKILL');
    n.proc = null;
  }

  /** SIGTERM; a daemon still there 20 s later (drain grace 5 s) is a failure, and gets SIGKILL. */
  async stopGracefully(id: string): Promise<void> {
    const n = this.node(id);
    const proc = n.proc;
    if (!proc) return;
    const timer = setTimeout(() => {
      this.problems.push(`daemon ${id} did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM:\n${proc.stderr.slice(-2000)}`);
      proc.child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await proc.stop('SIGTERM');
    clearTimeout(timer);
    n.proc = null;
  }

  pause(id: string): void {
    process.kill(this.node(id).proc!.pid, 'SIGSTOP');
  }

  resume(id: string): void {
    process.kill(this.node(id).proc!.pid, 'SIGCONT');
  }

  /** A client of its own, for faults done through etcd (compaction). */
  client(): Etcd3 {
    return new Etcd3({ hosts: this.etcd.hosts });
  }

  /** Fills n3's data-dir tmpfs to the last byte; returns a function that frees it. */
  fillDisk(): () => void {
    if (!this.tmpfs) throw new RangeError('this scenario has no tmpfs data dir');
    const filler = join(this.tmpfs, 'filler');
    try {
      execSyncQuiet(`fallocate -l "$(($(stat -f -c '%a*%S' ${this.tmpfs})))" ${filler}`);
    } catch {
      // fallocate fails when not a byte is left: that is the point
    }
    // Whatever fallocate could not take, dd takes byte by byte until ENOSPC.
    try {
      execSyncQuiet(`dd if=/dev/zero of=${filler}.tail bs=4k 2>/dev/null`);
    } catch {
      // ENOSPC ends dd with an error, as intended
    }
    const { bavail, bsize } = statfsSync(this.tmpfs);
    if (bavail * bsize > 64 * 1024) throw new Error(`could not fill ${this.tmpfs}: ${bavail * bsize} bytes still free`);
    return () => {
      rmSync(filler, { force: true });
      rmSync(`${filler}.tail`, { force: true });
    };
  }

  /**
   * Waits (up to `withinMs`) until every run that wrote a start line has
   * its gone line: after the daemons stopped, the watchers of the runs
   * they ended write theirs within milliseconds, and then nothing writes
   * to the ledger any more. Returns when it last read.
   */
  async settleLedger(withinMs = 5000): Promise<number> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const open = new Set<string>();
      try {
        for (const e of readLedger(this.files.ledger)) {
          if (e.kind === 'start') open.add(runIdOf(e));
          else if (e.kind === 'gone') open.delete(runIdOf(e));
        }
      } catch (err) {
        // A line read while a watcher was still appending it: read again.
        if (!(err instanceof LedgerFormatError)) throw err;
        open.add('a partial line');
      }
      if (open.size === 0 || Date.now() >= deadline) return Date.now();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Every run record on every host (read after the daemons stopped), for ticks that did not run. */
  records(): RecordedRun[] {
    const out: RecordedRun[] = [];
    for (const n of this.nodes) {
      const db = new Database(databasePath(n.dataDir), { readonly: true, fileMustExist: true });
      try {
        for (const row of db.prepare('SELECT job, tick_ms, host, status, trigger, message, shard FROM runs').all() as { job: string; tick_ms: number; host: string; status: string; trigger: string; message: string | null; shard: number | null }[]) {
          out.push({ job: row.job, tickMs: row.tick_ms, host: row.host, status: row.status, trigger: row.trigger, message: row.message, shard: row.shard });
        }
      } finally {
        db.close();
      }
    }
    return out;
  }

  /** Keeps the ledger, crontab and every daemon's log in `dir` (a failed scenario's evidence). */
  saveEvidence(dir: string, records: RecordedRun[], failures: string[] = []): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'failures.txt'), failures.join('\n\n'));
    writeFileSync(join(dir, 'records.json'), JSON.stringify(records));
    for (const f of [this.files.ledger, this.files.crontab]) copyFileSync(f, join(dir, basename(f)));
    for (const n of this.nodes) writeFileSync(join(dir, `${n.id}.log`), n.log);
    writeFileSync(join(dir, 'faults.json'), JSON.stringify(this.faults, null, 2));
  }

  /** Warnings and errors the daemons logged (for a failing report). */
  daemonWarnings(limit = 20): string {
    return this.nodes.map((n) => `--- ${n.id}\n${(n.log + (n.proc?.stderr ?? '')).split('\n').filter((l) => /"level":"(warn|error)"/.test(l)).slice(-limit).join('\n')}`).join('\n');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopGracefully(n.id)));
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.proc?.stop('SIGKILL')));
    killStrays(this.dir);
    this.proxy?.close();
    await this.etcd.stop();
    this.netns?.destroy();
    if (this.tmpfs) execSyncQuiet(`umount ${this.tmpfs}`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function execSyncQuiet(cmd: string): void {
  execSync(cmd, { stdio: 'ignore', shell: '/bin/sh' });
}

function mountTmpfs(dir: string, mib: number): string {
  execSyncQuiet(`mkdir -p ${dir} && mount -t tmpfs -o size=${mib}m,mode=0700 dcron-chaos ${dir}`);
  return dir;
}

/** Process groups of jobs orphaned by killed daemons, found by the workload path in a member's command line. */
function killStrays(dir: string): void {
  const own = processGroupOf('self');
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) continue;
      const pgrp = processGroupOf(pid);
      // Daemons share the harness's group; jobs run in groups of their own.
      if (pgrp !== own && pgrp > 1) process.kill(-pgrp, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

function processGroupOf(pid: string): number {
  // Field 5 of stat; the command name before it may hold spaces, so count from its ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}
