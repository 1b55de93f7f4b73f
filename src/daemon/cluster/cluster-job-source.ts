import { createHash } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { JobDefinition } from '../crontab/types.js';
import { someNames, type Logger } from '../log.js';
import type { ClusterKeys } from '../coordination/etcd/keys.js';
import { JobFollower, type JobListChange } from '../coordination/etcd/job-follower.js';
import { publishJobs } from '../coordination/etcd/job-publisher.js';
import type { JobRecord } from '../coordination/etcd/job-record.js';
import type { KnownRecords } from '../coordination/etcd/job-list.js';
import { parseCrontab } from '../crontab/parse.js';
import { hostTimeZone, readCrontabText, watchCrontab } from '../jobs/crontab-source.js';
import { logDiagnostics } from '../jobs/file-job-source.js';
import { sameTicks } from '../jobs/reload-plan.js';
import type { ApplyJobs, JobSource, LoadState } from '../jobs/job-source.js';

/**
 * Cluster mode: the job table is the cluster's shared list in etcd. A host
 * started with a crontab publishes it there (on start and on every change);
 * every host, with a file or without, runs what the list says.
 */
export class ClusterJobSource implements JobSource {
  private readonly follower: JobFollower;
  private apply: ApplyJobs | null = null;
  private watcher: { close(): Promise<void> } | null = null;
  private state: LoadState | null = null;
  private reloading: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly nodeId: string,
    private readonly file: string | null,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.follower = new JobFollower({ client, keys, log });
    this.follower.on('corrupt', (err) => log.error('a job in etcd is unusable and is skipped', { job: err.job, reason: err.reason }));
  }

  /** The cluster's list as records (writer, file), for validate --diff. */
  records(): ReadonlyMap<string, JobRecord> {
    return this.follower.jobs();
  }

  async start(apply: ApplyJobs): Promise<void> {
    this.apply = apply;
    let published: KnownRecords | undefined;
    if (this.file) {
      // A host whose own file cannot be read must not start: it would run a list it cannot see.
      published = await this.publish('start', true);
      this.watcher = watchCrontab(this.file, () => void this.reload('file changed'));
    }
    // Listening from before the first list: a change emitted before the boot table is
    // read is already in it; one emitted after must be applied.
    let booted = false;
    this.follower.on('change', (change) => {
      if (booted) void this.onChange(change);
    });
    await this.follower.start(published);
    booted = true;
    await apply({ jobs: this.table(), added: [...this.follower.jobs().keys()], rescheduled: [], removed: [] }, 'boot');
  }

  reload(reason: string): Promise<void> {
    if (!this.file) return Promise.resolve();
    this.reloading = this.reloading.then(async () => {
      await this.publish(reason, false);
    });
    return this.reloading;
  }

  lastLoad(): LoadState | null {
    return this.state;
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    await this.follower.stop();
  }

  private table(): Map<string, JobDefinition> {
    return new Map([...this.follower.jobs()].map(([name, record]) => [name, record.def]));
  }

  private async onChange(change: JobListChange): Promise<void> {
    const rescheduled = change.changed
      .filter(({ before, after }) => !sameTicks(before.def, after.def))
      .map(({ after }) => after.def.name);
    this.log.info('cluster job list changed', {
      added: someNames(change.added.map((r) => `${r.def.name} (by ${r.writer})`)),
      changed: someNames(change.changed.map(({ before, after }) => `${after.def.name} (${before.writer} -> ${after.writer})`)),
      removed: someNames(change.removed.map((r) => r.def.name)),
    });
    await this.apply?.(
      { jobs: this.table(), added: change.added.map((r) => r.def.name), rescheduled, removed: change.removed.map((r) => r.def.name) },
      'update',
    );
  }

  /** What was published, as publishJobs knows it; undefined when the file could not be read. */
  private async publish(reason: string, mustRead: boolean): Promise<KnownRecords | undefined> {
    const file = this.file!;
    let text: string;
    try {
      text = readCrontabText(file);
    } catch (err) {
      if (mustRead) throw err;
      this.log.error('crontab reload failed; the cluster keeps every job as it was', { reason, err });
      this.state = { atMs: this.now(), file, diagnostics: [], retained: [], readError: (err as Error).message };
      return;
    }
    const parsed = parseCrontab(text, { file, defaultTz: hostTimeZone() });
    const hasErrors = parsed.diagnostics.some((d) => d.severity === 'error');
    const fileHash = createHash('sha256').update(text).digest('hex').slice(0, 16);
    const result = await publishJobs(this.client, this.keys, { nodeId: this.nodeId, file, fileHash, jobs: parsed.jobs, hasErrors, log: this.log, now: this.now });
    this.state = { atMs: this.now(), file, diagnostics: parsed.diagnostics, retained: result.keptBecauseErrors, readError: null };
    logDiagnostics(this.log, this.state);
    this.log.info('crontab published to the cluster', { reason, added: someNames(result.added), changed: someNames(result.changed), removed: someNames(result.removed), unchanged: result.unchanged.length, keptBecauseErrors: someNames(result.keptBecauseErrors) });
    return result.known;
  }
}
