import type { JobDefinition } from '../crontab/types.js';
import type { Logger } from '../log.js';
import { readCrontab, watchCrontab } from './crontab-source.js';
import { planReload } from './reload-plan.js';
import type { ApplyJobs, JobSource, LoadState } from './job-source.js';

/** Single host: the job table is the crontab file, reloaded when it changes. */
export class FileJobSource implements JobSource {
  private jobs = new Map<string, JobDefinition>();
  private apply: ApplyJobs | null = null;
  private watcher: { close(): Promise<void> } | null = null;
  private state: LoadState | null = null;
  private reloading: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  async start(apply: ApplyJobs): Promise<void> {
    this.apply = apply;
    // An unreadable file at start is fatal (CrontabReadError): there is nothing to run.
    const parsed = readCrontab(this.file);
    const plan = planReload(this.jobs, parsed);
    this.jobs = plan.jobs;
    this.state = { atMs: this.now(), file: this.file, diagnostics: parsed.diagnostics, retained: [], readError: null };
    logDiagnostics(this.log, this.state);
    await apply({ jobs: this.jobs, added: plan.added, rescheduled: [], removed: [] }, 'boot');
    this.watcher = watchCrontab(this.file, () => void this.reload('file changed'));
  }

  reload(reason: string): Promise<void> {
    // Reloads run one at a time, in order: a burst of saves ends in the last one.
    this.reloading = this.reloading.then(() => this.reloadNow(reason));
    return this.reloading;
  }

  lastLoad(): LoadState | null {
    return this.state;
  }

  async close(): Promise<void> {
    await this.watcher?.close();
  }

  private async reloadNow(reason: string): Promise<void> {
    const startedMs = performance.now();
    let parsed;
    try {
      parsed = readCrontab(this.file);
    } catch (err) {
      this.log.error('crontab reload failed; keeping every job as it was', { reason, err });
      this.state = { atMs: this.now(), file: this.file, diagnostics: [], retained: [...this.jobs.keys()], readError: (err as Error).message };
      return;
    }
    const plan = planReload(this.jobs, parsed);
    this.jobs = plan.jobs;
    this.state = { atMs: this.now(), file: this.file, diagnostics: parsed.diagnostics, retained: plan.retained, readError: null };
    logDiagnostics(this.log, this.state);
    if (plan.retained.length > 0) this.log.warn('jobs kept with their previous definition until the file has no errors', { jobs: plan.retained });
    this.log.info('crontab reloaded', { reason, added: plan.added, changed: plan.changed, removed: plan.removed, jobs: this.jobs.size });
    await this.apply?.({ jobs: this.jobs, added: plan.added, rescheduled: plan.rescheduled, removed: plan.removed }, 'update');
    // Read, parse, plan and apply, for `npm run bench` (bench/scale.ts) and anyone tuning a large crontab.
    this.log.debug('crontab reload applied', { durationMs: Math.round(performance.now() - startedMs) });
  }
}

export function logDiagnostics(log: Logger, state: LoadState): void {
  for (const d of state.diagnostics) {
    log[d.severity === 'error' ? 'error' : 'warn']('crontab: ' + d.message, { file: d.file, line: d.line, column: d.column, text: d.text });
  }
}
