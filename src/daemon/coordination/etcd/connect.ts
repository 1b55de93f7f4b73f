import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions, type WatchBuilder } from 'etcd3';
import { DcronError } from '../../errors.js';

export interface EtcdConnectOptions {
  endpoints: string[];
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  auth?: { username: string; password: string };
  dialTimeoutMs?: number;
  /** Deadline of each unary call. Without one, a call to a black-holed member waits forever. */
  callTimeoutMs?: number;
}

/** A TLS file named in the configuration cannot be used. */
export class EtcdCredentialsError extends DcronError {}

const DEFAULT_CALL_TIMEOUT_MS = 5000;
/**
 * How long a member that failed 3 calls in a row is shut out. The client's
 * default, 5 s, shuts out every member after a quick rolling restart though
 * the cluster kept quorum, long enough for leases to go unproven.
 */
const MEMBER_SHUT_OUT_MS = 1000;

/** Builds the etcd client; it connects lazily, on the first call. */
export function connectEtcd(opts: EtcdConnectOptions): Etcd3 {
  const callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const options: IOptions = {
    hosts: opts.endpoints,
    dialTimeout: opts.dialTimeoutMs,
    auth: opts.auth,
    credentials: opts.tls && credentials(opts.tls),
    // A fresh deadline per attempt: the client's retry policy calls this again for each.
    // Streams (watches, keepalives) live long and set their own.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: MEMBER_SHUT_OUT_MS, breaker: new ConsecutiveBreaker(3) }),
    },
  };
  return new Etcd3(options);
}

function credentials(tls: NonNullable<EtcdConnectOptions['tls']>): IOptions['credentials'] {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new EtcdCredentialsError('a TLS client certificate needs both a certificate file and a key file');
  }
  return {
    // The client's types demand a CA; without one named, trust the system's, as `https://` endpoints would.
    rootCertificate: tls.caFile === undefined ? Buffer.from(rootCertificates.join('\n')) : readPem(tls.caFile, 'CA certificate'),
    certChain: tls.certFile === undefined ? undefined : readPem(tls.certFile, 'client certificate'),
    privateKey: tls.keyFile === undefined ? undefined : readPem(tls.keyFile, 'client key'),
  };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new EtcdCredentialsError(`cannot read the etcd ${what} '${path}': ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A watch builder on a stream of its own. etcd3 multiplexes a client's
 * watchers on one stream and, when etcd answers a watch create with
 * "created and canceled" (its start revision was compacted), hands the
 * cancel to the first watcher still waiting for an id, which need not be
 * the one being created: the attach queue then stalls and later replies
 * find no watcher ("Failed to find watcher for IWatchResponse"). With one
 * watcher per stream that guess is always right. The connections are
 * shared; only the gRPC stream is not.
 */
export function watchOnOwnStream(client: Etcd3): WatchBuilder {
  return client.namespace('').watch();
}
