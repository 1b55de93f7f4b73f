/**
 * A hook for etcd request failures, called where they are caught (claims,
 * run publishing, keepalives). The code that catches them stays free of
 * metrics; the metrics module subscribes.
 */
export type EtcdOp = 'claim' | 'publish_run' | 'keepalive';

type Listener = (op: EtcdOp) => void;
const listeners = new Set<Listener>();

export function reportEtcdError(op: EtcdOp): void {
  for (const l of listeners) l(op);
}

/** Returns the unsubscribe function. */
export function onEtcdError(listener: Listener): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}
