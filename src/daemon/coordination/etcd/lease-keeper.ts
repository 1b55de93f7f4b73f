import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { castGrpcError, EtcdLeaseInvalidError, type Etcd3 } from 'etcd3';
import { DcronError } from '../../errors.js';

export interface LeaseKeeperOptions {
  /** Whole seconds (etcd's unit). Keys under the lease outlive a dead node by at most this. Default 10. */
  ttlSeconds?: number;
  /** How long before the lease could expire the node stops trusting it: time to apply on-lost. Default max(1 s, TTL/3). */
  safetyMarginMs?: number;
  /**
   * Monotonic milliseconds. Proof is a duration since a keepalive, so a wall
   * clock stepped back by NTP must not stretch it. Tests inject their own.
   */
  now?: () => number;
}

export interface LeaseKeeperEvents {
  /** The lease is proven alive again: claiming may resume. */
  proven: [];
  /** A keepalive succeeded: the lease is proven for this many more milliseconds. */
  proof: [remainingMs: number];
  /** Proof lapsed: stop claiming and apply on-lost now, while the lease is still certainly alive. */
  unproven: [];
  /** The old lease is gone with every key bound to it; owners must put theirs again under the new one. */
  replaced: [leaseId: string, previousId: string];
  /** A grant, keepalive or revoke failed; the keeper retries by itself. For the log. */
  'attempt-failed': [error: Error];
}

/** The keeper holds no lease: not started, stopped, or between losing one and being granted the next. */
/** The first grant at start: attempts and the deadline of each (it connects, too). */
const FIRST_GRANT_ATTEMPTS = 3;
const FIRST_GRANT_TIMEOUT_MS = 5000;

export class LeaseNotHeldError extends DcronError {}

/** The first lease could not be granted (etcd unreachable, auth refused). */
export class LeaseGrantError extends DcronError {}

/** etcd closed a keepalive stream without answering it. */
export class KeepaliveUnansweredError extends DcronError {}

const FIRST_RETRY_MS = 100;

/**
 * One lease per node, kept alive by the keeper itself rather than by the
 * client's Lease, whose `lost` event can come 2×TTL late while a competitor
 * may own our keys after 1×TTL. Proof is measured from when the last
 * successful keepalive was *sent*: etcd renewed the lease no earlier than
 * that, so it cannot expire before sent + TTL.
 *
 * A lease unproven for a whole TTL is abandoned even if etcd later says it is
 * alive (a restarted etcd extends every lease): the daemon already applied
 * on-lost to what it covered, so a fresh lease, with the old one revoked, is
 * a clean state instead of keys nobody can vouch for.
 */
export class LeaseKeeper extends EventEmitter<LeaseKeeperEvents> {
  private readonly ttlMs: number;
  /** Proof lasts this long after a successful keepalive was sent. */
  private readonly windowMs: number;
  /** Three keepalives per window, so a single lost one does not lapse proof. */
  private readonly intervalMs: number;
  private readonly now: () => number;
  private lease: string | null = null;
  /** An abandoned lease, revoked once etcd answers again so its keys are gone when 'replaced' is emitted. */
  private stale: string | null = null;
  private lastProofMs = -Infinity;
  private announcedProven = false;
  private running = false;
  private retryMs = FIRST_RETRY_MS;
  private loopTimer: NodeJS.Timeout | null = null;
  private watchdogTimer: NodeJS.Timeout | null = null;

  constructor(private readonly client: Etcd3, opts: LeaseKeeperOptions = {}) {
    super();
    const ttlSeconds = opts.ttlSeconds ?? 10;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`lease TTL must be a whole number of seconds >= 1, got ${ttlSeconds}`);
    this.ttlMs = ttlSeconds * 1000;
    const margin = opts.safetyMarginMs ?? Math.max(1000, this.ttlMs / 3);
    if (!(margin >= 0 && margin < this.ttlMs)) throw new RangeError(`lease safety margin must be in [0, ${this.ttlMs}) ms, got ${margin}`);
    this.windowMs = this.ttlMs - margin;
    this.intervalMs = this.windowMs / 3;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Grants the first lease and starts keeping it alive. Rejects with LeaseGrantError if etcd does not answer. */
  async start(): Promise<void> {
    if (this.running) return;
    let sentMs = this.now();
    for (let attempt = 1; ; attempt++) {
      sentMs = this.now();
      try {
        // The first call also connects, and a daemon starting on a busy host can take seconds
        // to get there: a keepalive interval is too short a deadline for it.
        this.lease = await this.grant(Date.now() + FIRST_GRANT_TIMEOUT_MS);
        break;
      } catch (err) {
        if (attempt >= FIRST_GRANT_ATTEMPTS) throw new LeaseGrantError(`cannot get an etcd lease: ${(err as Error).message}`, { cause: err });
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
    this.running = true;
    this.proved(sentMs);
    this.next(this.intervalMs);
  }

  /** The lease to bind keys to (decimal, as etcd3 prints it). */
  leaseId(): string {
    if (this.lease === null) throw new LeaseNotHeldError('no etcd lease is held');
    return this.lease;
  }

  /** True while the lease is certainly alive with time to spare; `nowMs` is on the keeper's clock. */
  isProven(nowMs: number = this.now()): boolean {
    return this.running && this.lease !== null && nowMs - this.lastProofMs < this.windowMs;
  }

  /** How much longer the lease stays proven without another successful keepalive; 0 when it is not. */
  provenForMs(nowMs: number = this.now()): number {
    return this.isProven(nowMs) ? this.lastProofMs + this.windowMs - nowMs : 0;
  }

  /** When the last successful keepalive (or grant) was sent, on the keeper's clock; null before any. */
  lastProof(): number | null {
    return this.lastProofMs === -Infinity ? null : this.lastProofMs;
  }

  /** Puts `key` bound to the current lease: it vanishes when the node stops keeping it. Returns the put's revision. */
  async putWithLease(key: string, value: string): Promise<number> {
    const res = await this.client.put(key).value(value).lease(this.leaseId()).exec();
    return Number(res.header.revision);
  }

  /** Stops keepalives and revokes the lease, deleting its keys. If etcd is unreachable the lease expires on its own. */
  async stop(): Promise<void> {
    this.running = false;
    this.clearTimers();
    this.announcedProven = false;
    const held = [this.lease, this.stale].filter((l) => l !== null);
    this.lease = this.stale = null;
    await Promise.all(held.map((l) => this.revoke(l)));
  }

  private async step(): Promise<void> {
    const sentMs = this.now();
    try {
      const lease = this.lease;
      if (lease !== null && sentMs - this.lastProofMs < this.ttlMs) {
        const alive = await this.keepalive(lease);
        if (!this.running) return;
        if (alive) {
          this.proved(sentMs);
          this.next(this.intervalMs);
          return;
        }
      }
      await this.replace(sentMs);
    } catch (err) {
      if (!this.running) return;
      this.emit('attempt-failed', err as Error);
      this.next(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, this.intervalMs);
    }
  }

  /** The lease expired or was abandoned: get a new one, then make sure the old one's keys are gone. */
  private async replace(sentMs: number): Promise<void> {
    if (this.lease !== null) {
      this.stale = this.lease;
      this.lease = null;
    }
    const lease = await this.grant();
    const previous = this.stale;
    if (previous !== null) await this.revoke(previous);
    if (!this.running) {
      await this.revoke(lease);
      return;
    }
    this.stale = null;
    this.lease = lease;
    if (previous !== null) this.emit('replaced', lease, previous);
    this.proved(sentMs);
    this.next(this.intervalMs);
  }

  private proved(sentMs: number): void {
    this.lastProofMs = sentMs;
    this.retryMs = FIRST_RETRY_MS;
    this.armWatchdog();
    this.emit('proof', this.provenForMs());
    if (this.isProven() && !this.announcedProven) {
      this.announcedProven = true;
      this.emit('proven');
    }
  }

  /** Fires when proof lapses, not when the next keepalive fails: a stuck call must not delay 'unproven'. */
  private armWatchdog(): void {
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    const remaining = this.lastProofMs + this.windowMs - this.now();
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = null;
      if (this.isProven()) {
        this.armWatchdog(); // timers may fire a little early
      } else if (this.announcedProven) {
        this.announcedProven = false;
        this.emit('unproven');
      }
    }, Math.max(1, Math.ceil(remaining)));
  }

  private next(delayMs: number): void {
    if (!this.running) return;
    this.loopTimer = setTimeout(() => {
      this.loopTimer = null;
      void this.step();
    }, delayMs);
  }

  private clearTimers(): void {
    if (this.loopTimer) clearTimeout(this.loopTimer);
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.loopTimer = this.watchdogTimer = null;
  }

  private async grant(deadline = this.deadline()): Promise<string> {
    const res = await this.client.leaseClient.leaseGrant({ TTL: this.ttlMs / 1000 }, { deadline });
    return res.ID;
  }

  /** One keepalive on its own stream, so its reply is known to answer this send. False if etcd no longer has the lease. */
  private async keepalive(lease: string): Promise<boolean> {
    // Waits for as long as the answer would still be proof: measured from its send, a keepalive
    // etcd answers late under load proves the lease all the same, where one cut off at the
    // interval and re-sent can lapse proof on a slow but healthy etcd.
    const stream = await this.client.leaseClient.leaseKeepAlive({ deadline: this.deadline(this.provenForMs()) });
    return new Promise((resolve, reject) => {
      stream.on('data', (res) => {
        stream.end();
        resolve(res.TTL !== '0');
      });
      // Kept after the reply: an unhandled late 'error' would crash the process.
      stream.on('error', (err) => reject(castGrpcError(err)));
      stream.on('end', () => reject(new KeepaliveUnansweredError('etcd closed the keepalive stream without a reply')));
      stream.write({ ID: lease });
    });
  }

  private async revoke(lease: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: lease }, { deadline: this.deadline() });
    } catch (err) {
      // Already expired is what revoking wanted; anything else leaves it to expire within its TTL.
      if (!(err instanceof EtcdLeaseInvalidError)) this.emit('attempt-failed', err as Error);
    }
  }

  /** A call slower than a keepalive interval (or `atLeastMs`) is as good as failed: the next attempt should start instead. */
  private deadline(atLeastMs = 0): number {
    return Date.now() + Math.max(this.intervalMs, atLeastMs, 250);
  }
}
