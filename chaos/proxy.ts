/**
 * A TCP relay in front of etcd for one daemon, which the harness can cut:
 * every open connection is destroyed and new ones refused until restored.
 * It takes one daemon's watches down without touching etcd or the others.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private cut = false;

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(target: { host: string; port: number }): Promise<CuttableProxy> {
    let self: CuttableProxy | null = null;
    const server = createServer((client) => {
      if (!self || self.cut) return client.destroy();
      const upstream = connect(target.port, target.host);
      for (const s of [client, upstream]) {
        self.sockets.add(s);
        s.on('close', () => self!.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    self = new CuttableProxy(server, `http://127.0.0.1:${port}`);
    return self;
  }

  /** Drops every connection and refuses new ones. */
  sever(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
