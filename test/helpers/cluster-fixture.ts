import { after, before } from 'node:test';
import Database from 'better-sqlite3';
import { databasePath } from '../../src/daemon/paths.js';
import { DaemonProcess, Workspace } from './daemon-process.js';
import { EtcdCluster } from './etcd.js';

/**
 * What every cluster e2e file sets up: one real etcd (started before its
 * tests, stopped after), a workspace, and the daemons its tests start on
 * that etcd, all killed after the file.
 */
export class ClusterFixture {
  readonly ws = new Workspace();
  readonly daemons: DaemonProcess[] = [];
  private cluster: EtcdCluster | undefined;

  constructor() {
    before(async () => {
      this.cluster = await EtcdCluster.start(1);
    });
    after(async () => {
      await Promise.all(this.daemons.map((d) => d.stop('SIGKILL')));
      await this.cluster?.stop();
      this.ws.cleanup();
    });
  }

  get etcd(): EtcdCluster {
    if (!this.cluster) throw new Error('etcd is started in before(): use it inside a test');
    return this.cluster;
  }

  /** Daemons of one cluster, each with its own data dir (`CLUSTER-ID` in the workspace), started together. */
  async startNodes(cluster: string, crontab: string, ids: readonly string[] = ['n1', 'n2', 'n3'], extraArgs: readonly string[] = []): Promise<DaemonProcess[]> {
    const started = await Promise.all(
      ids.map((id) => DaemonProcess.launch({ dataDir: this.ws.path(`${cluster}-${id}`), args: ['--etcd', this.etcd.endpoints, '--cluster', cluster, '--crontab', crontab, '--node-id', id, ...extraArgs] })),
    );
    this.daemons.push(...started);
    return started;
  }
}

/** Rows of one query over every node's SQLite file (read-only while they run), in node order. */
export function queryEachNode<T>(nodes: readonly DaemonProcess[], sql: string, ...params: unknown[]): T[] {
  return nodes.flatMap((node) => {
    const db = new Database(databasePath(node.dataDir), { readonly: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  });
}
