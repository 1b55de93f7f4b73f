/**
 * The fault scenarios. Each sets up a Harness and repeats one fault cycle
 * (inject, hold, heal, let the cluster recover) until its time is up.
 * Holding a fault for some seconds is the fault itself, so those waits are
 * plain timers; anything the harness expects to happen is polled for.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { JobView } from '../src/daemon/control/api-types.js';
import { placementOrder } from '../src/daemon/cluster/rendezvous.js';
import { jitterFor } from '../src/daemon/executor/jitter.js';
import { waitFor } from '../test/helpers/wait.js';
import type { Harness, HarnessOptions } from './harness.js';
import { LEASE_TTL_S, NODE_IDS } from './harness.js';
import { LedgerTail, type LedgerEntry } from './ledger.js';
import { CORE_JOBS, DAG_JOBS, DAG_SLOTS, crontabText, jobLines, type WorkloadJob } from './workload.js';

export interface ScenarioContext {
  h: Harness;
  cycle: number;
  random: () => number;
  /** Scenario-specific failures (a daemon died, a follower never caught up...). */
  fail(message: string): void;
  /** What the scenario saw of its fault (where a kill landed), for the report: not a verdict. */
  note(message: string): void;
  /** Jobs that come and go during the scenario. */
  churn: WorkloadJob[];
}

export interface Scenario {
  name: string;
  what: string;
  harness: HarnessOptions;
  /** One fault cycle, healed before it returns. */
  cycle(ctx: ScenarioContext): Promise<void>;
}

const hold = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** After a fault heals: a lease TTL for dead leases to go, then some ticks of normal running. */
const RECOVER_MS = (LEASE_TTL_S + 4) * 1000;

const victim = (ctx: ScenarioContext): string => NODE_IDS[ctx.cycle % NODE_IDS.length];

/** The churn jobs the edits scenarios add and remove. */
const CHURN: WorkloadJob[] = ['edit-a', 'edit-b'].map((name) => ({ name, periodS: 1, runS: 0, overlap: 'skip', mode: 'one', failover: false }));

/** Lines no parser should take: each must cost only itself, never a running job. */
const BROKEN_LINES = ['61 * * * * echo out-of-range', '* * * *', '#dcron name=bad/name', '@every 0s echo zero', 'FOO', '*/0 * * * * echo step-zero', '\u0000\u00ff garbage ; rm -rf /nonexistent', '#dcron name=dup-core', '* * * * * echo a', '#dcron name=dup-core', '* * * * * echo b'];

function writeCrontab(h: Harness, text: string, inPlace: boolean): void {
  if (inPlace) {
    writeFileSync(h.files.crontab, text);
  } else {
    const tmp = `${h.files.crontab}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, h.files.crontab);
  }
}

/** Toggles the first churn job in or out of the crontab; returns whether it is now in. */
function toggleChurn(ctx: ScenarioContext, extra: string[] = []): boolean {
  const present = ctx.churn.length === 0;
  ctx.churn = present ? [CHURN[0]] : [];
  writeCrontab(ctx.h, crontabText(ctx.h.files, [...CORE_JOBS, ...ctx.churn], extra), false);
  return present;
}

function assertAlive(ctx: ScenarioContext, ids: readonly string[] = NODE_IDS): void {
  for (const id of ids) {
    const p = ctx.h.node(id).proc;
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) ctx.fail(`cycle ${ctx.cycle}: daemon ${id} is not running:\n${p?.stderr.slice(-2000) ?? ''}`);
  }
}

/** One ledger reader per harness: the scenarios that act on what the jobs do read it as it grows. */
const tails = new WeakMap<Harness, LedgerTail>();
function tailOf(h: Harness): LedgerTail {
  let t = tails.get(h);
  if (!t) tails.set(h, (t = new LedgerTail(h.files.ledger)));
  t.read();
  return t;
}

const runId = (e: LedgerEntry) => `${e.job}@${e.tickMs}/${e.shard ?? '-'}#${e.fence}@${e.host}`;

/** Shard runs going on `host` now: a start line of the last few seconds with no end line yet. */
function shardsRunningOn(h: Harness, host: string): LedgerEntry[] {
  const { entries } = tailOf(h);
  const ended = new Set(entries.filter((e) => e.kind === 'end').map(runId));
  const recent = Date.now() - 3000;
  return entries.filter((e) => e.kind === 'start' && e.host === host && e.shard != null && (e.atMs ?? 0) > recent && !ended.has(runId(e)));
}

/** Whether every shard of `parent`'s tick wrote its end line, per the ledger read so far. */
function parentEnded(h: Harness, parent: WorkloadJob, tickMs: number): boolean {
  const done = new Set(tailOf(h).entries.filter((e) => e.kind === 'end' && e.job === parent.name && e.tickMs === tickMs).map((e) => e.shard ?? 0));
  return done.size === (parent.shards ?? 1);
}

const dagJob = (name: string): WorkloadJob => DAG_JOBS.find((j) => j.name === name)!;
/** The dependent pairs of the DAG workload, in the order the dependency scenario takes them. */
const DEPENDENTS = DAG_JOBS.filter((j) => j.after).map((child) => ({ child, parent: dagJob(child.after!) }));

/** Resolves when etcd's done state of `job` (ticks/tick-ledger.ts) shows `tickMs` ended ok or failed: the moment its dependents come due. */
async function doneState(h: Harness, job: string, tickMs: number, timeoutMs: number): Promise<'ok' | 'failed' | 'timeout'> {
  const client = h.client();
  try {
    const key = `/dcron/chaos/done/${job}`;
    const judge = (text: string | null): 'ok' | 'failed' | null => {
      const done = text ? (JSON.parse(text) as { ok?: { tickMs: number } | null; failed?: { tickMs: number } | null }) : null;
      return (done?.ok?.tickMs ?? 0) >= tickMs ? 'ok' : (done?.failed?.tickMs ?? 0) >= tickMs ? 'failed' : null;
    };
    const watcher = await client.watch().key(key).create();
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve('timeout'), timeoutMs);
        const settle = (v: 'ok' | 'failed' | null) => v && (clearTimeout(timer), resolve(v));
        watcher.on('put', (kv) => settle(judge(kv.value.toString())));
        watcher.on('error', reject);
        // A done state written before the watch began.
        client.get(key).string().then((v) => settle(judge(v)), reject);
      });
    } finally {
      await watcher.cancel();
    }
  } finally {
    client.close();
  }
}

const DAG_HARNESS: HarnessOptions = { etcdMembers: 1, jobs: DAG_JOBS, slots: DAG_SLOTS };

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'kill9',
    what: 'kill -9 of a daemon mid-run, restarted 3 s later',
    harness: { etcdMembers: 1 },
    async cycle(ctx) {
      const id = victim(ctx);
      await ctx.h.fault(`kill -9 ${id}`, async () => {
        await ctx.h.kill9(id);
        await hold(3000);
        await ctx.h.startNode(id);
      }, [id]);
      await hold(RECOVER_MS);
    },
  },
  {
    name: 'sigstop',
    what: `SIGSTOP of a daemon for ${LEASE_TTL_S * 2} s (lease TTL ${LEASE_TTL_S} s), then SIGCONT`,
    harness: { etcdMembers: 1 },
    async cycle(ctx) {
      const id = victim(ctx);
      await ctx.h.fault(`SIGSTOP ${id}`, async () => {
        ctx.h.pause(id);
        await hold(LEASE_TTL_S * 2000);
        ctx.h.resume(id);
      }, [id]);
      await hold(RECOVER_MS);
      assertAlive(ctx);
    },
  },
  {
    name: 'etcd-restart',
    what: 'the single etcd member stopped (SIGTERM or SIGKILL) for 3 s and started again',
    harness: { etcdMembers: 1 },
    async cycle(ctx) {
      const signal = ctx.cycle % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      await ctx.h.fault(`etcd ${signal}`, async () => {
        await ctx.h.etcd.stopMember(0, signal);
        await hold(3000);
        await ctx.h.etcd.startMember(0);
      });
      await hold(RECOVER_MS);
      assertAlive(ctx);
    },
  },
  {
    name: 'isolate',
    what: 'one etcd member of three cut off (its network namespace link down) for 10 s',
    harness: { etcdMembers: 3, isolatableMember: true },
    async cycle(ctx) {
      await ctx.h.fault('member m2 isolated', async () => {
        ctx.h.netns!.isolate();
        await hold(10_000);
        ctx.h.netns!.heal();
      });
      await ctx.h.etcd.waitHealthy();
      await hold(RECOVER_MS);
      assertAlive(ctx);
    },
  },
  {
    name: 'quorum',
    what: 'two etcd members of three killed: quorum lost for 30 s, then restored',
    harness: { etcdMembers: 3 },
    async cycle(ctx) {
      // Which two changes per cycle, so the leader is among them in some cycles and not in others.
      const down = ctx.cycle % 2 === 0 ? [1, 2] : [0, 1];
      await ctx.h.fault(`quorum lost (m${down[0]}, m${down[1]} down)`, async () => {
        await Promise.all(down.map((i) => ctx.h.etcd.stopMember(i, 'SIGKILL')));
        await hold(30_000);
        await Promise.all(down.map((i) => ctx.h.etcd.startMember(i)));
      });
      await hold(RECOVER_MS);
      assertAlive(ctx);
    },
  },
  {
    name: 'skew',
    what: 'n2 runs with its clock 5 s ahead and n3 5 s behind (libfaketime), the whole time',
    harness: { etcdMembers: 1, clockOffsets: { n2: '+5s', n3: '-5s' } },
    async cycle(ctx) {
      await hold(10_000);
      assertAlive(ctx);
    },
  },
  {
    name: 'edits',
    what: 'the crontab rewritten every 2-4 s: jobs added and removed, broken lines, a running job\'s line broken, in place or renamed over',
    harness: { etcdMembers: 1 },
    async cycle(ctx) {
      const { h } = ctx;
      const roll = ctx.random();
      const extra: string[] = [];
      // Broken lines at random places: they must cost only themselves.
      if (roll < 0.6) for (let i = 0; i < 1 + Math.floor(ctx.random() * 3); i++) extra.push(BROKEN_LINES[Math.floor(ctx.random() * BROKEN_LINES.length)]);
      if (roll < 0.5) ctx.churn = ctx.churn.length > 0 ? [] : [CHURN[Math.floor(ctx.random() * CHURN.length)]];
      let lines = [...CORE_JOBS, ...ctx.churn].flatMap((j) => jobLines(h.files, j));
      // A running job's command line broken: its previous definition must stay in force.
      if (ctx.random() < 0.3) {
        const at = 1 + 2 * Math.floor(ctx.random() * CORE_JOBS.length);
        lines = lines.map((l, i) => (i === at ? `${l.split(' ').slice(0, 5).join(' ')}` : l));
      }
      const text = ['# dcron chaos workload (edited)', 'SHELL=/bin/sh', ...lines, ...extra, ''].join('\n');
      await h.fault('crontab edit', async () => writeCrontab(h, text, ctx.random() < 0.5));
      await hold(2000 + ctx.random() * 2000);
      assertAlive(ctx);
    },
  },
  {
    name: 'disk-full',
    what: "n3's data dir (a 48 MiB tmpfs) filled to the last byte for 8 s, then freed",
    harness: { etcdMembers: 1, n3TmpfsMiB: 48 },
    async cycle(ctx) {
      await ctx.h.fault('n3 disk full', async () => {
        const free = ctx.h.fillDisk();
        await hold(8000);
        free();
      }, ['n3']);
      await hold(RECOVER_MS);
      assertAlive(ctx);
    },
  },
  {
    name: 'compaction',
    what: "n3's etcd connections cut for 4 s while the job list changes and etcd compacts past the change",
    harness: { etcdMembers: 1, proxyN3: true, n3FollowsCluster: true },
    async cycle(ctx) {
      const { h } = ctx;
      const client = h.client();
      let present = false;
      try {
        await h.fault('n3 cut off; job list changed; etcd compacted', async () => {
          h.proxy!.sever();
          const started = Date.now();
          present = toggleChurn(ctx);
          const key = `/dcron/chaos/jobs/${CHURN[0].name}`;
          await waitFor('the edit to reach etcd', async () => ((await client.get(key).string()) !== null) === present, 15_000);
          const { header } = await client.kv.range({ key: Buffer.from(key) });
          await client.kv.compact({ revision: header.revision, physical: true });
          await hold(Math.max(0, 4000 - (Date.now() - started)));
          h.proxy!.restore();
        }, ['n3']);
        // n3 watched from before the compacted revision: it must notice and re-list.
        await waitFor(`n3 to ${present ? 'see' : 'drop'} ${CHURN[0].name} after compaction`, async () => (await h.node('n3').proc!.call<JobView[]>('ls')).some((j) => j.name === CHURN[0].name) === present, 20_000).catch((err: Error) => ctx.fail(`cycle ${ctx.cycle}: ${err.message}`));
      } finally {
        client.close();
      }
      await hold(RECOVER_MS);
      assertAlive(ctx);
    },
  },
  {
    name: 'rolling',
    what: 'a rolling restart: each daemon in turn stopped with SIGTERM and started again',
    harness: { etcdMembers: 1 },
    async cycle(ctx) {
      for (const id of NODE_IDS) {
        await ctx.h.fault(`restart ${id}`, async () => {
          await ctx.h.stopGracefully(id);
          await ctx.h.startNode(id);
        }, [id]);
        await hold(3000);
      }
      assertAlive(ctx);
    },
  },
  {
    name: 'kill9-shards',
    what: 'kill -9 of a daemon while shards run on it (8 shards failover=rerun, 4 failover=none, and their children), restarted 3 s later',
    harness: DAG_HARNESS,
    async cycle(ctx) {
      const { h } = ctx;
      const id = victim(ctx);
      assertAlive(ctx);
      const running = await waitFor(`a shard run going on ${id}`, () => {
        const r = shardsRunningOn(h, id);
        return r.length > 0 ? r : undefined;
      }, 15_000, 10).catch((err: Error) => (ctx.fail(`cycle ${ctx.cycle}: ${err.message}`), []));
      if (running.length === 0) return;
      await h.fault(`kill -9 ${id} mid-shard`, async () => {
        await h.kill9(id);
        await hold(3000);
        await h.startNode(id);
      }, [id]);
      ctx.note(`cycle ${ctx.cycle}: kill -9 ${id} with ${running.length} shard run(s) going: ${running.map((e) => `${e.job} ${e.tickMs}/${e.shard} fence ${e.fence}`).join(', ')}`);
      await hold(RECOVER_MS);
    },
  },
  {
    name: 'kill9-dependency',
    what: "kill -9 of the daemon placed first for a child between its parent tick's end and the child's start: at the parent's last end line (before the host reports it), or at the parent's done state in etcd (before the child's claim or in its jitter); restarted 3 s later",
    harness: DAG_HARNESS,
    async cycle(ctx) {
      const { h } = ctx;
      assertAlive(ctx);
      const { child, parent } = DEPENDENTS[ctx.cycle % DEPENDENTS.length];
      // Each pair in turn, first killed at the done state (the tick counted as ended ok), then at the last end line.
      const at = Math.floor(ctx.cycle / DEPENDENTS.length) % 2 === 0 ? 'done state' : 'end line';
      const period = parent.periodS * 1000;
      const tickMs = Math.ceil((Date.now() + 300) / period) * period;
      // Every node is live and eligible: the child's claim goes to the first of this order at once, to the next one a handicap later.
      const target = placementOrder(child.name, tickMs, NODE_IDS)[0];
      const deadline = tickMs - Date.now() + 15_000;
      const ended = at === 'done state' ? await doneState(h, parent.name, tickMs, deadline) : await waitFor('the end', () => parentEnded(h, parent, tickMs), deadline, 2).then(() => 'ok' as const, () => 'timeout' as const);
      if (ended !== 'ok') {
        ctx.note(`cycle ${ctx.cycle}: ${parent.name}'s tick ${tickMs} ${ended === 'failed' ? 'failed' : 'did not end within 15 s'}; no kill`);
        await hold(RECOVER_MS);
        return;
      }
      const killedAt = Date.now();
      const ends = tailOf(h).entries.filter((e) => e.kind === 'end' && e.job === parent.name && e.tickMs === tickMs);
      const last = ends.reduce((x, y) => ((y.atMs ?? 0) > (x.atMs ?? 0) ? y : x), ends[0]);
      let restartedAt = 0;
      await h.fault(`kill -9 ${target} at ${parent.name}'s ${at} for ${tickMs}`, async () => {
        await h.kill9(target);
        await hold(3000);
        restartedAt = Date.now();
        await h.startNode(target);
      }, [target]);
      await hold(RECOVER_MS);
      // Where the kill landed, from the child's start lines for that tick.
      const starts = tailOf(h).entries.filter((e) => e.kind === 'start' && e.job === child.name && e.tickMs === tickMs);
      const jitter = child.jitterMs ? `, jitter ${jitterFor(child.name, tickMs, child.jitterMs)} ms` : '';
      const landed = starts.length === 0
        ? 'no child run'
        // A start line on the target before its restart is from a job it had spawned (the line may come some ms after the kill).
        : starts.map((e) => (e.host === target && (e.atMs ?? 0) < restartedAt ? `too late: ${target} had spawned the child (its start line ${(e.atMs ?? 0) - killedAt} ms after the kill)` : e.trigger === 'failover' ? `between claim and start: rerun by ${e.host} (failover)` : e.host !== target ? `before the claim: ${e.host} claimed it (${e.trigger})` : `${target} ran it after its restart (${e.trigger})`)).join('; ');
      ctx.note(`cycle ${ctx.cycle}: ${child.name} after ${parent.name} tick ${tickMs}: kill -9 ${target} at the ${at}, ${killedAt - (last?.atMs ?? killedAt)} ms after the last end line (on ${last?.host}${last?.host === target ? ', the killed host' : ''})${jitter}: ${landed}`);
    },
  },
];

export function scenarioNamed(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new RangeError(`no scenario '${name}'; there are: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
