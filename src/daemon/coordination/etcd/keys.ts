/**
 * Every etcd key dcron uses, under one prefix per cluster (`--cluster NAME`),
 * so several clusters share one etcd. Names that reach a key are validated
 * before they get here (job names and node ids match SAFE_SEGMENT), so no
 * value can climb out of its namespace with `/` or `..`.
 */
export const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/**
 * What is claimed: a job (`backup`), or one shard of a sharded job
 * (`backup/3`, ticks/shards.ts). A `/` cannot occur in a job name, so a
 * shard's keys never collide with another job's, and a job's prefix with a
 * trailing `/` covers exactly its shards' keys.
 */
const SAFE_UNIT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(\/\d{1,4})?$/;

/** Ticks and cursors are compared as strings in transactions: fixed width keeps that order numeric. */
export const TICK_WIDTH = 16;
export const encodeTick = (ms: number): string => String(ms).padStart(TICK_WIDTH, '0');
export const decodeTick = (text: string): number => Number(text.slice(0, TICK_WIDTH));

export class ClusterKeys {
  readonly root: string;

  constructor(cluster: string) {
    if (!SAFE_SEGMENT.test(cluster)) throw new RangeError(`invalid cluster name '${cluster}'`);
    this.root = `/dcron/${cluster}/`;
  }

  /** Shared job list: one key per job, value = JSON job record. */
  jobsPrefix = (): string => `${this.root}jobs/`;
  job = (name: string): string => `${this.jobsPrefix()}${segment(name)}`;

  /** Covers both kinds of cursor below (and nothing else): what a node mirrors. */
  cursorsPrefix = (): string => `${this.root}cursor`;
  /** Per-job claim cursor: `<tick16>|<node>`; per-host cursors for mode=all. */
  cursor = (job: string): string => `${this.root}cursor/${unit(job)}`;
  hostCursor = (job: string, node: string): string => `${this.root}cursor-host/${unit(job)}/${segment(node)}`;
  /**
   * What a node last wrote to a cursor of the job, written with it: a claim whose
   * reply was lost is still recognised after the cursor moved on.
   */
  lastClaim = (job: string, node: string): string => `${this.lastClaimsPrefix(job)}${segment(node)}`;
  /** Every node's last-claim key of one job; the trailing `/` keeps job `a` from covering job `a.b`. */
  lastClaimsPrefix = (job: string): string => `${this.root}claimed/${unit(job)}/`;

  /** Held (with the runner's lease) while a job with overlap=skip runs anywhere. */
  busy = (job: string): string => `${this.root}busy/${unit(job)}`;

  /** Every shard's cursor (`cursor/JOB/I`) of a sharded job; the trailing `/` keeps job `a` from covering `a.b`. */
  shardCursorsPrefix = (job: string): string => `${this.root}cursor/${segment(job)}/`;
  /** Every shard's fence key of a sharded job. */
  shardFencesPrefix = (job: string): string => `${this.root}fence/${segment(job)}/`;

  /**
   * A sharded (or depended-on) job's tick as its runs end: one key per shard
   * that ended, `ok` or `failed` (tick-ledger.ts). Deleted once every shard has ended.
   */
  tickLedger = (job: string, tickMs: number): string => `${this.root}ticks/${segment(job)}/${encodeTick(tickMs)}/`;
  /** One shard's end in a tick's ledger: `ok` or `failed`. */
  tickShard = (job: string, tickMs: number, shard: number): string => `${this.tickLedger(job, tickMs)}${shard}`;
  /** Every shard key of a tick (`I` is digits only): what a report counts, without reading their values. */
  tickShards = (job: string, tickMs: number): { start: string; end: string } => ({ start: `${this.tickLedger(job, tickMs)}0`, end: `${this.tickLedger(job, tickMs)}:` });
  /** Shard I of a tick ended not ok: `failed` or `skipped`, next to its shard key, so a report reads these few and only counts the rest. */
  tickNotOk = (job: string, tickMs: number, shard: number): string => `${this.tickNotOks(job, tickMs)}${shard}`;
  tickNotOks = (job: string, tickMs: number): string => `${this.tickLedger(job, tickMs)}n/`;
  tickLedgersPrefix = (job: string): string => `${this.root}ticks/${segment(job)}/`;
  /** The hosts that started a mode=all tick, each `running`, `ok` or `failed`. */
  tickHosts = (job: string, tickMs: number): string => `${this.tickLedger(job, tickMs)}h/`;
  tickHost = (job: string, tickMs: number, node: string): string => `${this.tickHosts(job, tickMs)}${segment(node)}`;
  /** A mode=all tick has ended: later joins are refused. Outlives the tick's other keys for a while. */
  tickClosed = (job: string, tickMs: number): string => `${this.tickLedger(job, tickMs)}closed`;
  /** The newest tick of a job that ended ok and the newest that failed: what dependent jobs follow. */
  doneOfPrefix = (): string => `${this.root}done/`;
  doneOf = (job: string): string => `${this.doneOfPrefix()}${segment(job)}`;

  /** Bumped to mint fences for runs that are not new ticks (manual, retry). */
  fence = (job: string): string => `${this.root}fence/${unit(job)}`;

  /** Live nodes, each under its own lease. */
  nodesPrefix = (): string => `${this.root}nodes/`;
  node = (id: string): string => `${this.nodesPrefix()}${segment(id)}`;

  /** Runs in flight, under the runner's lease: where a job runs, and what died with a host. */
  runningPrefix = (job?: string): string => (job === undefined ? `${this.root}running/` : `${this.root}running/${segment(job)}/`);
  running = (job: string, runId: string): string => `${this.runningPrefix(job)}${segment(runId)}`;

  /** Covers running/ and runs/ (and nothing else): one watch sees a run end, summary and all, in one response. */
  runActivityPrefix = (): string => `${this.root}run`;

  /** Small, capped summaries of finished runs, for history from any host. */
  runsPrefix = (job?: string): string => (job === undefined ? `${this.root}runs/` : `${this.root}runs/${segment(job)}/`);
  run = (job: string, runId: string): string => `${this.runsPrefix(job)}${segment(runId)}`;

  /** Created once by the node that re-runs a tick whose host died mid-run (failover=rerun). */
  failover = (job: string, tickMs: number): string => `${this.root}failover/${unit(job)}/${encodeTick(tickMs)}`;

  /** Created once by the node that runs attempt ATTEMPT of a tick whose retry moved hosts (`retry-elsewhere=true`); expires like `failover/`. */
  retry = (job: string, tickMs: number, attempt: number): string => `${this.root}retry/${unit(job)}/${encodeTick(tickMs)}/${attempt}`;

  /** Created once by the node that backfills a past tick of a unit (`dcron backfill`, `dcron run --tick`); never deleted. */
  backfill = (job: string, tickMs: number): string => `${this.root}backfill/${unit(job)}/${encodeTick(tickMs)}`;

  /** Commands to one node (kill, run), and their replies. */
  commandsPrefix = (node: string): string => `${this.root}commands/${segment(node)}/`;
  command = (node: string, id: string): string => `${this.commandsPrefix(node)}${segment(id)}`;
  reply = (id: string): string => `${this.root}replies/${segment(id)}`;

  /** Operators' pauses (`dcron pause`), one key per paused job; mirrored by every node. */
  pausedPrefix = (): string => `${this.root}paused/`;
  paused = (job: string): string => `${this.pausedPrefix()}${segment(job)}`;

  /** Concurrency group permits (`group=NAME`): `groups/NAME/I`, I below the group's limit, each under its holder's lease. */
  groupsPrefix = (): string => `${this.root}groups/`;
  groupPermit = (group: string, index: number): string => `${this.groupsPrefix()}${segment(group)}/${index}`;

  /** Shared secret of the peer API, created by the first daemon if none is configured. */
  peerSecret = (): string => `${this.root}peer-secret`;
}

export class UnsafeKeySegmentError extends RangeError {}

function unit(s: string): string {
  if (!SAFE_UNIT.test(s)) throw new UnsafeKeySegmentError(`'${s}' cannot be part of an etcd key`);
  return s;
}

function segment(s: string): string {
  if (!SAFE_SEGMENT.test(s)) throw new UnsafeKeySegmentError(`'${s}' cannot be part of an etcd key`);
  return s;
}
