/**
 * etcd refusing the daemon's user access to its keys is a setup problem: say
 * which user and what to grant, rather than print gRPC's error with its stack
 * as if dcron had crashed. Loaded only when a cluster daemon fails to start.
 */
import { EtcdPermissionDeniedError } from 'etcd3';
import { DcronError } from '../../errors.js';

export class EtcdAccessError extends DcronError {}

/** `err` as an EtcdAccessError when etcd denied the user its cluster's keys; any other error as it is. */
export function explainEtcdAccess(err: unknown, ctx: { user: string | undefined; cluster: string }): unknown {
  if (!(err instanceof EtcdPermissionDeniedError)) return err;
  const user = ctx.user === undefined ? 'the daemon (no --etcd-user)' : `user '${ctx.user}'`;
  const prefix = `/dcron/${ctx.cluster}/`;
  return new EtcdAccessError(
    `etcd denied ${user} access to the cluster's keys under ${prefix}: give its role readwrite on that prefix ` +
      `(etcdctl role grant-permission ROLE readwrite --prefix=true ${prefix})`,
    { cause: err },
  );
}
