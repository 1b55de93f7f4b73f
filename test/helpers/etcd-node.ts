import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../src/daemon/coordination/etcd/connect.js';
import { ClusterKeys } from '../../src/daemon/coordination/etcd/keys.js';
import { LeaseKeeper, type LeaseKeeperOptions } from '../../src/daemon/coordination/etcd/lease-keeper.js';
import { TickClaims } from '../../src/daemon/coordination/etcd/tick-claims.js';

/** One simulated dcron node: its own etcd client, lease and claims, as a daemon on its own host would have. */
export interface TestNode {
  id: string;
  client: Etcd3;
  lease: LeaseKeeper;
  claims: TickClaims;
  close(): Promise<void>;
}

let clusterSeq = 0;

/** Keys under a cluster name no other test uses, so tests can share one etcd. */
export function freshKeys(): ClusterKeys {
  return new ClusterKeys(`t${process.pid}-${++clusterSeq}`);
}

export async function startNode(endpoints: string[], keys: ClusterKeys, id: string, lease: LeaseKeeperOptions = { ttlSeconds: 3 }): Promise<TestNode> {
  const client = connectEtcd({ endpoints });
  const keeper = new LeaseKeeper(client, lease);
  try {
    await keeper.start();
  } catch (err) {
    client.close();
    throw err;
  }
  return {
    id,
    client,
    lease: keeper,
    claims: new TickClaims(client, keys, id, keeper),
    async close() {
      await keeper.stop();
      client.close();
    },
  };
}

export async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
}
