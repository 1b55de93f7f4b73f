import { WatchBuilder, type Etcd3, type Namespace } from 'etcd3';

/**
 * The client, except that every watch builder it hands out, by `watch()` or
 * through `namespace(...).watch()` (a watch on a stream of its own), goes
 * through `edit` first: a fault injected into watches only.
 */
export function withWatches(c: Etcd3, edit: (builder: WatchBuilder) => WatchBuilder): Etcd3 {
  const wrapped = Object.create(c) as Etcd3;
  wrapped.watch = () => edit(c.watch());
  wrapped.namespace = (prefix: string | Buffer) => {
    const ns = c.namespace(prefix);
    const editing = Object.create(ns) as Namespace;
    editing.watch = () => edit(ns.watch());
    return editing;
  };
  return wrapped;
}

/** Watches look at a prefix nothing writes to: a watch that stays silent, as on an isolated member. */
export function withSilentWatches(c: Etcd3): Etcd3 {
  return withWatches(c, (builder) => {
    builder.prefix = () => WatchBuilder.prototype.prefix.call(builder, '/nothing-is-written-here/');
    return builder;
  });
}

/** The first watch starts at `revision`, whatever the caller asked; later ones as asked. */
export function withFirstWatchFrom(c: Etcd3, revision: number): Etcd3 {
  let first = true;
  return withWatches(c, (builder) => {
    if (first) {
      first = false;
      builder.startRevision = () => WatchBuilder.prototype.startRevision.call(builder, String(revision));
    }
    return builder;
  });
}
