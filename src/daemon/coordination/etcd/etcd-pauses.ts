import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../log.js';
import { decodePause, encodePause, type JobPauses, type JobPausesEvents, type PauseState } from '../../jobs/job-pauses.js';
import type { ClusterKeys } from './keys.js';
import { PrefixMirror } from './prefix-mirror.js';

/** A lost watch event is found by the next re-list: a pause missed that long would run ticks it should not. */
const PAUSES_RELIST_MS = 10_000;

/**
 * Pauses of a cluster: one etcd key per paused job, written by whichever
 * host's control socket took the command, and mirrored by every node, so a
 * pause stops the job on every host as fast as the watch delivers it. A
 * paused tick is still claimed (tick-pipeline.ts), so it is recorded
 * `paused` once, by the host that claims it, even when hosts disagree for
 * the few milliseconds the change takes to reach them.
 */
export class EtcdPauses extends EventEmitter<JobPausesEvents> implements JobPauses {
  private readonly mirror: PrefixMirror<PauseState | null>;
  private readonly pauses = new Map<string, PauseState>();

  constructor(private readonly client: Etcd3, private readonly keys: ClusterKeys, log: Logger) {
    super();
    this.mirror = new PrefixMirror({ client, prefix: keys.pausedPrefix(), decode: (kv) => decodePause(kv.value.toString()), what: 'job pauses', log, relistIntervalMs: PAUSES_RELIST_MS });
    this.mirror.on('changes', (batch) => {
      for (const c of batch.changes) this.learn(c.key, c.type === 'put' ? c.value : null);
    });
  }

  async start(): Promise<void> {
    await this.mirror.start();
  }

  get(job: string): PauseState | undefined {
    return this.pauses.get(job);
  }

  all(): ReadonlyMap<string, PauseState> {
    return this.pauses;
  }

  async pause(job: string, state: PauseState): Promise<void> {
    await this.client.put(this.keys.paused(job)).value(encodePause(state));
    // Known here at once, not when the watch brings it back: the caller's next `ls` must show it.
    this.learn(this.keys.paused(job), state);
  }

  async resume(job: string): Promise<boolean> {
    const res = await this.client.delete().key(this.keys.paused(job));
    const was = this.pauses.has(job);
    this.learn(this.keys.paused(job), null);
    return Number(res.deleted) > 0 || was;
  }

  async close(): Promise<void> {
    await this.mirror.stop();
  }

  private learn(key: string, state: PauseState | null): void {
    const job = key.slice(this.keys.pausedPrefix().length);
    const had = this.pauses.get(job);
    if (state) this.pauses.set(job, state);
    else this.pauses.delete(job);
    if (had === undefined && state === null) return;
    if (had && state && had.untilMs === state.untilMs && had.atMs === state.atMs && had.by === state.by) return;
    this.emit('changed', job, state);
  }
}
