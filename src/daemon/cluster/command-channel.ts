import { watchOnOwnStream } from '../coordination/etcd/connect.js';
import { randomUUID } from 'node:crypto';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import type { Logger } from '../log.js';
import { DcronError } from '../errors.js';

export type CommandOp =
  | { op: 'kill'; job: string; runId?: string }
  | { op: 'run'; job: string }
  /** retry-elsewhere: run attempt `attempt` of the tick here; answered true when this node took it (ran or recorded it). */
  | { op: 'retry'; job: string; tickMs: number; shard: number | null; shards: number | null; attempt: number; triedOn: string[]; busyFence: number | null };

export interface Command {
  id: string;
  from: string;
  atMs: number;
  body: CommandOp;
}

export type CommandReply = { ok: true; result: unknown } | { ok: false; code: string; message: string };

/** The target node did not answer in time (dead, partitioned, or not watching). */
export class CommandTimeoutError extends DcronError {}

/**
 * Kill and manual-run requests travel through etcd, so `dcron kill` on any
 * host reaches whichever host runs the job. A request is a key under the
 * target's `commands/` prefix; the target runs it once, writes a reply under
 * its lease and deletes the request. Requests are bound to the sender's
 * lease, so they vanish if the sender dies before an answer.
 */
export class CommandChannel {
  private watcher: Watcher | null = null;
  private readonly handled = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly nodeId: string,
    private readonly leaseId: () => string,
    private readonly log: Logger,
    private readonly handler: (cmd: Command) => Promise<unknown>,
  ) {}

  async start(): Promise<void> {
    const prefix = this.keys.commandsPrefix(this.nodeId);
    this.watcher = await watchOnOwnStream(this.client).prefix(prefix).create();
    this.watcher.on('put', (kv) => void this.handle(kv));
    this.watcher.on('error', (err) => this.log.debug('command watch error; re-listing', { err }));
    // Requests written while the watch was down are picked up by a periodic list.
    await this.sweep();
    this.timer = setInterval(() => void this.sweep(), 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.watcher?.cancel().catch(() => {});
  }

  /** Sends a command to `node` and waits for its reply. */
  async send(node: string, body: CommandOp, timeoutMs = 5000): Promise<unknown> {
    const cmd: Command = { id: randomUUID(), from: this.nodeId, atMs: Date.now(), body };
    const replyKey = this.keys.reply(cmd.id);
    const watcher = await watchOnOwnStream(this.client).key(replyKey).create();
    try {
      const reply = new Promise<CommandReply>((resolve) => watcher.on('put', (kv) => resolve(JSON.parse(kv.value.toString()) as CommandReply)));
      await this.client.put(this.keys.command(node, cmd.id)).value(JSON.stringify(cmd)).lease(this.leaseId()).exec();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CommandTimeoutError(`node ${node} did not answer within ${timeoutMs} ms`)), timeoutMs);
      });
      const answer = await Promise.race([reply, timeout]).finally(() => clearTimeout(timer));
      if (!answer.ok) throw new RemoteCommandError(answer.code, answer.message);
      return answer.result;
    } finally {
      await watcher.cancel().catch(() => {});
      await this.client.delete().key(replyKey).exec().catch(() => {});
      await this.client.delete().key(this.keys.command(node, cmd.id)).exec().catch(() => {});
    }
  }

  private async sweep(): Promise<void> {
    try {
      const res = await this.client.getAll().prefix(this.keys.commandsPrefix(this.nodeId)).exec();
      for (const kv of res.kvs) await this.handle(kv);
    } catch (err) {
      this.log.debug('command sweep failed', { err });
    }
  }

  private async handle(kv: IKeyValue): Promise<void> {
    let cmd: Command;
    try {
      cmd = JSON.parse(kv.value.toString()) as Command;
    } catch {
      await this.client.delete().key(kv.key.toString()).exec().catch(() => {});
      return;
    }
    // The watch and the sweep can both see one request: run it once.
    if (this.handled.has(cmd.id)) return;
    this.handled.add(cmd.id);
    let reply: CommandReply;
    try {
      reply = { ok: true, result: (await this.handler(cmd)) ?? null };
    } catch (err) {
      reply = { ok: false, code: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) };
    }
    try {
      await this.client.put(this.keys.reply(cmd.id)).value(JSON.stringify(reply)).lease(this.leaseId()).exec();
      await this.client.delete().key(kv.key.toString()).exec();
    } catch (err) {
      this.log.warn('could not answer a cluster command', { command: cmd.body, from: cmd.from, err });
    }
    // Ids are random: forgetting old ones is safe once the request key is gone.
    if (this.handled.size > 10_000) this.handled.clear();
  }
}

/** The target node refused the command; `code` is its error class there. */
export class RemoteCommandError extends DcronError {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}
