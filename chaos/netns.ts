/**
 * A network namespace joined to this host by a veth pair, so one etcd
 * member can be cut off for real: with the inner end down, packets to it
 * vanish silently (as in a partition) and it cannot reach anyone.
 */
import { execFileSync } from 'node:child_process';

export class NetnsError extends Error {}

export class IsolatedHost {
  private constructor(
    readonly name: string,
    /** This host's address on the link (reachable from inside and out). */
    readonly outerIp: string,
    /** The namespace's address. */
    readonly innerIp: string,
    private readonly innerDev: string,
  ) {}

  /** Needs root (ip netns). Names and the /30 subnet derive from `slot`, unique per concurrent user. */
  static create(slot: number): IsolatedHost {
    const name = `dcron-chaos-${slot}`;
    const outer = `dcx${slot}o`;
    const inner = `dcx${slot}i`;
    // A /30 per slot inside 10.200.0.0/16: 64 slots per third octet.
    const prefix = `10.200.${Math.floor(slot / 64) % 256}.${(slot % 64) * 4}`.split('.').slice(0, 3).join('.');
    const base = (slot % 64) * 4;
    const outerIp = `${prefix}.${base + 1}`;
    const innerIp = `${prefix}.${base + 2}`;
    try {
      ip('netns', 'del', name);
    } catch {
      // not there: the usual case
    }
    try {
      ip('netns', 'add', name);
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', name);
      ip('addr', 'add', `${outerIp}/30`, 'dev', outer);
      ip('link', 'set', outer, 'up');
      ip('netns', 'exec', name, 'ip', 'addr', 'add', `${innerIp}/30`, 'dev', inner);
      ip('netns', 'exec', name, 'ip', 'link', 'set', inner, 'up');
      ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    } catch (err) {
      throw new NetnsError(`cannot make network namespace ${name} (needs root and iproute2): ${(err as Error).message}`);
    }
    return new IsolatedHost(name, outerIp, innerIp, inner);
  }

  /** The command prefix that runs a program inside the namespace. */
  wrap(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  isolate(): void {
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', this.innerDev, 'down');
  }

  heal(): void {
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', this.innerDev, 'up');
  }

  /** Deleting the namespace deletes the veth pair with it. */
  destroy(): void {
    try {
      ip('netns', 'del', this.name);
    } catch {
      // already gone
    }
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
