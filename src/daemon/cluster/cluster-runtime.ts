import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import type { JobDefinition } from '../crontab/types.js';
import { EtcdTickLedger } from '../coordination/etcd/etcd-ledger.js';
import type { Coordinator } from '../coordination/coordinator.js';
import { connectEtcd, type EtcdConnectOptions } from '../coordination/etcd/connect.js';
import { EtcdCoordinator } from '../coordination/etcd/etcd-coordinator.js';
import { ClusterKeys } from '../coordination/etcd/keys.js';
import { CursorMirror } from '../coordination/etcd/cursor-mirror.js';
import { CursorStarter } from '../coordination/etcd/cursor-starter.js';
import type { PrefixMirror } from '../coordination/etcd/prefix-mirror.js';
import { LeaseKeeper } from '../coordination/etcd/lease-keeper.js';
import { TickClaims } from '../coordination/etcd/tick-claims.js';
import { TxnBatcher } from '../coordination/etcd/txn-batcher.js';
import type { Executor, RetryMove, TickRun } from '../executor/executor.js';
import type { JobGuard } from '../executor/job-guard.js';
import type { HostMode, LocalNode } from '../host-mode.js';
import { reportEtcdError } from '../metrics/etcd-errors.js';
import type { RunLog } from '../runlog/run-log.js';
import type { Logger } from '../log.js';
import { DcronError } from '../errors.js';
import { PeerServer } from '../peer/peer-server.js';
import { PeerClient } from '../peer/peer-client.js';
import { runLogSource } from '../peer/run-log-source.js';
import { VERSION } from '../version.js';
import { ClusterJobSource } from './cluster-job-source.js';
import { CommandChannel, type Command, type CommandOp } from './command-channel.js';
import { startTakenOver, type TakeOverDeps } from './taken-over-run.js';
import { FailoverWatcher } from './failover.js';
import { parseHostSelector, type HostSelector } from './host-selector.js';
import { NodeDirectory } from './node-directory.js';
import { claimDelay, placementOrder } from './rendezvous.js';
import { RunReporter, parseSummary, type RunSummary } from './run-reporter.js';
import { RunWatcher, runActivityMirror } from './run-watcher.js';
import { EtcdPauses } from '../coordination/etcd/etcd-pauses.js';
import { EtcdGroupSlots } from '../coordination/etcd/etcd-group-slots.js';
import { EtcdBackfillClaims } from '../coordination/etcd/etcd-backfill-claims.js';
import { unitOf } from '../ticks/shards.js';

/** How long a node offered a retry has to take it before the attempt's marker decides: well inside the markers' window. */
const RETRY_OFFER_TIMEOUT_MS = 5000;

export interface ClusterOptions {
  etcd: EtcdConnectOptions;
  cluster: string;
  labels: Record<string, string>;
  leaseTtlSeconds: number;
  handicapMs: number;
  peerListen: { host: string; port: number };
  peerAdvertise: string | null;
  peerSecretFile: string | null;
}

export class PeerSecretFileError extends DcronError {}

/**
 * Everything cluster mode adds to a daemon: the etcd client and this node's
 * lease, tick claims, the shared job list, the node directory, run
 * publishing, commands between nodes, and the peer API.
 */
export class ClusterRuntime implements HostMode {
  readonly kind = 'cluster';
  /** A tick due before this node started may be in a peer's hands; a node that cannot record leaves ticks to peers. */
  readonly sharesTicks = true;
  readonly coordinator: Coordinator;
  readonly ledger: EtcdTickLedger;
  readonly pauses: EtcdPauses;
  readonly backfillClaims: EtcdBackfillClaims;
  readonly groupSlots: EtcdGroupSlots;
  readonly jobSource: ClusterJobSource;
  readonly directory: NodeDirectory;
  /** Runs of the other nodes as they start and end (for the TUI's event stream). */
  readonly runs: RunWatcher;
  /** running/ and runs/ keys, watched once for failover and for `runs` (run-watcher.ts). */
  private readonly runActivity: PrefixMirror<RunSummary | null>;
  /** Every tick cursor, watched: the coordinator reads it instead of asking etcd once per job. */
  private readonly cursors: CursorMirror;
  /** Claims and run publishing made in one turn of the event loop share a request. */
  private readonly batcher: TxnBatcher;
  private readonly claims: TickClaims;
  private readonly selectors = new Map<string, HostSelector>();
  private commands: CommandChannel | null = null;
  private failover: FailoverWatcher | null = null;
  private reporter: RunReporter | null = null;
  private peerServer: PeerServer | null = null;
  private peerUrl: string | null = null;
  private peerClient: PeerClient | null = null;
  private local: LocalNode | null = null;

  private constructor(
    readonly client: Etcd3,
    readonly keys: ClusterKeys,
    readonly lease: LeaseKeeper,
    private readonly opts: ClusterOptions,
    private readonly nodeId: string,
    private readonly log: Logger,
    crontab: string | null,
  ) {
    this.batcher = new TxnBatcher(client);
    const claims = (this.claims = new TickClaims(client, keys, nodeId, lease, this.batcher));
    this.cursors = new CursorMirror({ client, prefix: keys.cursorsPrefix(), isOwn: (value) => claims.isOwnMark(value), log });
    this.jobSource = new ClusterJobSource(client, keys, nodeId, crontab, log, Date.now);
    // New jobs' cursors get a batcher of their own: 100,000 of them at first sync must not queue ahead of claims.
    const starter = new CursorStarter(claims, new TxnBatcher(client, { maxInFlight: 2 }), log);
    // A batcher of its own: a 64-shard tick's ends must not queue behind its 64 run summaries, or its child starts late.
    this.ledger = new EtcdTickLedger(client, keys, new TxnBatcher(client), log);
    this.pauses = new EtcdPauses(client, keys, log);
    this.backfillClaims = new EtcdBackfillClaims(client, keys, nodeId);
    this.groupSlots = new EtcdGroupSlots(client, keys, nodeId, lease, log);
    this.coordinator = new EtcdCoordinator(claims, { mirror: this.cursors, starter, introducedAt: (job) => this.jobSource.records().get(job)?.writtenMs });
    this.directory = new NodeDirectory({
      client,
      keys,
      log,
      self: () => ({
        id: nodeId,
        labels: opts.labels,
        startedMs: this.local?.startedMs ?? Date.now(),
        version: VERSION,
        peerUrl: this.peerUrl,
        running: this.local?.executor.runningCount() ?? 0,
        slots: this.local?.slots(),
        figures: this.local?.figures(),
        // A node whose data dir is full cannot record runs: peers place its ticks elsewhere.
        healthy: lease.isProven() && (this.local?.runLog.writable ?? true),
      }),
      putWithLease: (key, value) => lease.putWithLease(key, value),
    });
    // Re-listed twice per failover window: a vanishing found by a re-list after a silent watch is still in time to rerun.
    this.runActivity = runActivityMirror(client, keys, log, claims.failoverMarkers.windowMs / 2);
    this.runs = new RunWatcher({ client, keys, nodeId, log, activity: this.runActivity });
  }

  /** Connects to etcd and takes this node's lease; fails fast when etcd cannot be reached. */
  static async connect(opts: ClusterOptions, nodeId: string, crontab: string | null, log: Logger): Promise<ClusterRuntime> {
    const client = connectEtcd(opts.etcd);
    const keys = new ClusterKeys(opts.cluster);
    const lease = new LeaseKeeper(client, { ttlSeconds: opts.leaseTtlSeconds });
    try {
      await lease.start();
    } catch (err) {
      client.close();
      throw err;
    }
    const runtime = new ClusterRuntime(client, keys, lease, opts, nodeId, log, crontab);
    try {
      await runtime.cursors.start();
    } catch (err) {
      await lease.stop().catch(() => {});
      client.close();
      throw err;
    }
    return runtime;
  }

  storeError(): void {
    reportEtcdError('claim');
  }

  bindGuard(guard: JobGuard): void {
    guard.provenFor(this.lease.provenForMs());
    this.lease.on('proof', (ms) => guard.provenFor(ms));
  }

  /** Placement: rendezvous over live, healthy, eligible nodes; mode=all runs everywhere eligible. */
  readonly placement = {
    delayFor: (job: JobDefinition, tickMs: number, unit: string): number | null => {
      if (!this.eligibleHere(job)) return null;
      if (job.options.mode === 'all') return 0;
      const eligible = this.eligibleNodes(job);
      return claimDelay(unit, tickMs, this.nodeId, eligible, this.opts.handicapMs);
    },
    eligible: (job: JobDefinition): string[] => this.eligibleNodes(job),
    eligibleHere: (job: JobDefinition): boolean => this.eligibleHere(job),
  };

  /** Starts what needs the daemon's executor and run log: publishing runs, commands, the peer API. */
  async attach(local: LocalNode): Promise<void> {
    this.local = local;
    const secret = await this.peerSecret();
    this.peerServer = new PeerServer({ source: runLogSource(local.runLog, local.executor), secret, log: this.log });
    const address = await this.peerServer.listen(this.opts.peerListen.host, this.opts.peerListen.port);
    this.peerUrl = this.opts.peerAdvertise ?? `http://${address.address}:${address.port}`;
    this.peerClient = new PeerClient({ nodeId: this.nodeId, secret });

    this.reporter = new RunReporter(this.batcher, this.client, this.keys, () => this.lease.leaseId(), this.log);
    local.executor.on('run-started', (r) => void this.reporter!.started(r));
    local.executor.on('run-finished', (r) => void this.reporter!.finished(r));
    local.recorder.on('run-recorded', (r) => void this.reporter!.recorded(r));

    this.lease.on('unproven', () => {
      const killed = local.executor.applyOnLost();
      this.log.error('cannot prove this node\'s etcd lease: claiming stopped, on-lost applied', { killed });
    });
    this.lease.on('proven', () => this.log.info('etcd lease proven again: claiming resumes'));
    this.lease.on('replaced', (id) => {
      this.log.warn('etcd lease replaced: re-publishing this node and its running runs', { lease: id });
      void this.directory.refresh();
      for (const run of local.runLog.runningRuns()) void this.reporter!.started(run);
    });
    this.lease.on('attempt-failed', (err) => this.log.debug('lease keepalive attempt failed', { err }));

    await this.directory.start();
    const { windowMs } = this.claims.failoverMarkers;
    this.failover = new FailoverWatcher({
      ...this.takeOverDeps(local),
      nodeId: this.nodeId,
      log: this.log,
      job: local.job,
      // Watched with runs/: a finished run's summary arrives in the batch that removes its running/ key.
      // Failover starts and stops the mirror; the run watcher only listens.
      running: this.runActivity,
      finished: async (job, runId) => (await this.client.get(this.keys.run(job, runId)).string()) !== null,
      eligible: (job) => this.eligibleHere(job),
      claimFailover: (job, tickMs) => this.coordinator.claimFailover(job, tickMs),
      windowMs,
      lostElsewhere: (run) => local.lostElsewhere(run.job, run.tickMs, run.shard ?? null, run.shards ?? null, run.host),
      countsLost: (job) => local.tracksTicks(job),
    });
    await this.failover.start();
    this.runs.start();
    this.commands = new CommandChannel(this.client, this.keys, this.nodeId, () => this.lease.leaseId(), this.log, (cmd) => this.onCommand(cmd));
    await this.commands.start();
    this.log.info('joined the cluster', { cluster: this.opts.cluster, node: this.nodeId, peerUrl: this.peerUrl, nodes: this.directory.list().map((n) => n.record.id) });
  }

  get peer(): PeerClient {
    return this.peerClient!;
  }

  /** Runs in flight anywhere in the cluster, per job. */
  async runningEverywhere(job?: string): Promise<Map<string, RunSummary[]>> {
    const res = await this.client.getAll().prefix(this.keys.runningPrefix(job)).strings();
    const out = new Map<string, RunSummary[]>();
    for (const value of Object.values(res)) {
      const s = parseSummary(value);
      if (s) out.set(s.job, [...(out.get(s.job) ?? []), s]);
    }
    return out;
  }

  /** Finished runs' summaries from every host, newest first. */
  async summaries(job?: string): Promise<RunSummary[]> {
    const res = await this.client.getAll().prefix(this.keys.runsPrefix(job)).strings();
    return Object.values(res)
      .map(parseSummary)
      .filter((s): s is RunSummary => s !== null)
      .sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  /** Kills the job's runs wherever they are. */
  async killEverywhere(job: string, runId?: string): Promise<string[]> {
    const running = (await this.runningEverywhere(job)).get(job) ?? [];
    const hosts = new Set(running.filter((r) => runId === undefined || r.id.startsWith(runId)).map((r) => r.host));
    const killed: string[] = [];
    for (const host of hosts) {
      const ids = host === this.nodeId ? this.local!.executor.kill(job, runId && this.fullId(running, runId)) : ((await this.commands!.send(host, { op: 'kill', job, runId: runId && this.fullId(running, runId) })) as string[]);
      killed.push(...ids);
    }
    return killed;
  }

  /**
   * retry-elsewhere: offers attempt `attempt` of the run to the next eligible
   * live node in the unit's rendezvous order for the tick that has not tried
   * it. Both sides claim the attempt's marker before running it, so an offer
   * whose answer is lost still runs on exactly one node: here only if this
   * node's claim commits.
   */
  readonly moveRetry = async (run: TickRun, attempt: number, triedOn: readonly string[]): Promise<RetryMove> => {
    const shard = run.shard ?? null;
    const unit = unitOf(run.job.name, shard);
    const target = placementOrder(unit, run.tickMs, this.eligibleNodes(run.job)).find((n) => !triedOn.includes(n) && n !== this.nodeId);
    if (target === undefined || !this.commands) return { kind: 'here' };
    try {
      const taken = await this.commands.send(target, { op: 'retry', job: run.job.name, tickMs: run.tickMs, shard: shard?.index ?? null, shards: shard?.count ?? null, attempt, triedOn: [...triedOn], busyFence: run.busyFence }, RETRY_OFFER_TIMEOUT_MS);
      if (taken === true) return { kind: 'moved', to: target };
    } catch (err) {
      this.log.warn('a retry offered to another node went unanswered; the attempt\'s marker decides where it runs', { job: run.job.name, tick: run.tickMs, attempt, to: target, err });
    }
    return (await this.claims.claimRetry(unit, run.tickMs, attempt)) ? { kind: 'here' } : { kind: 'moved', to: target };
  };

  /** Runs a job once now on the node rendezvous picks for this instant among the eligible live nodes. */
  async runSomewhere(job: JobDefinition): Promise<unknown> {
    const target = placementOrder(job.name, Date.now(), this.eligibleNodes(job))[0] ?? this.nodeId;
    if (target === this.nodeId) return this.local!.runHere(job.name);
    return this.commands!.send(target, { op: 'run', job: job.name });
  }

  peerUrlOf(node: string): string | null {
    return this.directory.get(node)?.record.peerUrl ?? null;
  }

  async close(): Promise<void> {
    await this.commands?.stop();
    await this.failover?.stop();
    this.runs.stop();
    await this.directory.stop();
    await this.jobSource.close();
    await this.cursors.stop();
    await this.ledger.close();
    await this.peerServer?.close();
    // Revoking the lease removes this node and its running/ keys at once, rather than after the TTL.
    await this.lease.stop().catch(() => {});
    this.client.close();
  }

  private fullId(running: RunSummary[], prefix: string): string {
    return running.find((r) => r.id.startsWith(prefix))?.id ?? prefix;
  }

  private eligibleNodes(job: JobDefinition): string[] {
    const selector = this.selectorFor(job);
    const ids = this.directory
      .list()
      .filter((n) => n.record.healthy && selector(n.record))
      .map((n) => n.record.id);
    // This node may not have seen its own record yet; it is eligible if its selector matches.
    if (!ids.includes(this.nodeId) && this.lease.isProven() && this.eligibleHere(job)) ids.push(this.nodeId);
    return ids;
  }

  /** This node's id and labels match the job's hosts= selector. */
  private eligibleHere(job: JobDefinition): boolean {
    return this.selectorFor(job)({ id: this.nodeId, labels: this.opts.labels });
  }

  private selectorFor(job: JobDefinition): HostSelector {
    const text = job.options.hosts ?? '';
    let selector = this.selectors.get(text);
    if (!selector) this.selectors.set(text, (selector = parseHostSelector(job.options.hosts)));
    return selector;
  }

  private async onCommand(cmd: Command): Promise<unknown> {
    const local = this.local!;
    local.log.info('command from the cluster', { from: cmd.from, ...cmd.body });
    if (cmd.body.op === 'kill') return local.executor.kill(cmd.body.job, cmd.body.runId);
    if (cmd.body.op === 'retry') return this.retryHere(local, cmd.body);
    return local.runHere(cmd.body.job);
  }

  /** A retry offered by another node (moveRetry): taken when this node wins its marker, then run or recorded here. */
  private async retryHere(local: LocalNode, offer: Extract<CommandOp, { op: 'retry' }>): Promise<boolean> {
    const receivedMs = performance.now();
    const job = local.job(offer.job);
    if (!job || !this.eligibleHere(job) || !this.coordinator.mayAct()) return false;
    const shard = offer.shard !== null && offer.shards !== null ? { index: offer.shard, count: offer.shards } : null;
    const claim = await this.claims.claimRetry(unitOf(job.name, shard), offer.tickMs, offer.attempt);
    if (!claim) return false;
    const tick = { job, tickMs: offer.tickMs, trigger: 'retry' as const, fence: claim.fence, shard, firstAttempt: offer.attempt, triedOn: offer.triedOn };
    // The offering node claims the marker once its offer times out, and the marker outlives both claims only
    // if this one came within the timeout of the offer: later, it may have expired under the other's claim.
    if (performance.now() - receivedMs > RETRY_OFFER_TIMEOUT_MS) {
      local.recorder.lost({ ...tick, job: job.name }, `moved retry won its marker ${Math.round(performance.now() - receivedMs)} ms after the offer came, too late to be sure no other node runs it; not started`);
      return true;
    }
    // overlap=skip: the busy mark of the offering chain passes to this run, so no tick starts in between.
    const deps = { ...this.takeOverDeps(local), takeBusy: (unit: string, tickMs: number) => this.claims.takeBusy(unit, tickMs, offer.busyFence) };
    await startTakenOver(deps, tick, 'moved retry');
    return true;
  }

  private takeOverDeps(local: LocalNode): TakeOverDeps {
    return {
      executor: local.executor,
      recorder: local.recorder,
      mayAct: () => this.coordinator.mayAct(),
      takeBusy: (job, tickMs) => this.claims.takeBusy(job, tickMs),
      groupPermit: (job, unit, tickMs) => local.groupPermit(job, unit, tickMs),
      holdSlots: (job) => local.holdSlots(job),
    };
  }

  /** The configured secret, or the cluster's, created once by whichever node comes first. */
  private async peerSecret(): Promise<Buffer> {
    if (this.opts.peerSecretFile) {
      try {
        return Buffer.from(readFileSync(this.opts.peerSecretFile, 'utf8').trim());
      } catch (err) {
        throw new PeerSecretFileError(`cannot read --peer-secret-file ${this.opts.peerSecretFile}: ${(err as Error).message}`);
      }
    }
    const key = this.keys.peerSecret();
    await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(randomBytes(32).toString('hex'))).commit();
    return Buffer.from((await this.client.get(key).string())!);
  }
}

