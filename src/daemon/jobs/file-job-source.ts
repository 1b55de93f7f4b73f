import type { JobDefinition, ParseResult } from '../crontab/types.js';
import { someNames, type Logger } from '../log.js';
import { resolve } from 'node:path';
import { CrontabParser } from '../crontab/parse.js';
import { hostTimeZone, readCrontabText, watchCrontab } from './crontab-source.js';
import { planEdit, planReload, type ReloadPlan } from './reload-plan.js';
import type { ApplyJobs, JobSource, LoadState } from './job-source.js';

/** Single host: the job table is the crontab file, reloaded when it changes. */
export class FileJobSource implements JobSource {
  private readonly file: string;
  /** Kept across reloads: an edit re-reads only the lines it changed. */
  private readonly parser = new CrontabParser();
  private jobs = new Map<string, JobDefinition>();
  /** Jobs of the table missing from the last parse (it had errors), kept as they were. */
  private retained: string[] = [];
  private apply: ApplyJobs | null = null;
  private watcher: { close(): Promise<void> } | null = null;
  private state: LoadState | null = null;
  private reloading: Promise<void> = Promise.resolve();

  constructor(
    file: string,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.file = resolve(file);
  }

  async start(apply: ApplyJobs): Promise<void> {
    this.apply = apply;
    // An unreadable file at start is fatal (CrontabReadError): there is nothing to run.
    const startedMs = performance.now();
    const parsed = this.read();
    const plan = this.plan(parsed);
    this.log.debug('crontab read', { jobs: this.jobs.size, durationMs: Math.round(performance.now() - startedMs) });
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

  /**
   * The reload's plan, and the table it leads to. After an edit the parser
   * could splice, only the jobs it replaced are looked at (planEdit);
   * otherwise every job is compared (planReload).
   */
  private plan(parsed: ParseResult): ReloadPlan & { replaced?: string[] } {
    const edit = this.parser.lastEdit;
    const plan = edit ? { ...planEdit(this.jobs, this.retained, edit, parsed), replaced: edit.added.map((job) => job.name) } : planReload(this.jobs, parsed);
    this.jobs = plan.jobs;
    this.retained = plan.retained;
    return plan;
  }

  private read(): ParseResult {
    return this.parser.parse(readCrontabText(this.file), { file: this.file, defaultTz: hostTimeZone() });
  }

  private async reloadNow(reason: string): Promise<void> {
    const startedMs = performance.now();
    let parsed;
    try {
      parsed = this.read();
    } catch (err) {
      this.log.error('crontab reload failed; keeping every job as it was', { reason, err });
      this.state = { atMs: this.now(), file: this.file, diagnostics: [], retained: [...this.jobs.keys()], readError: (err as Error).message };
      return;
    }
    const plan = this.plan(parsed);
    this.state = { atMs: this.now(), file: this.file, diagnostics: parsed.diagnostics, retained: plan.retained, readError: null };
    logDiagnostics(this.log, this.state);
    if (plan.retained.length > 0) this.log.warn('jobs kept with their previous definition until the file has no errors', { jobs: plan.retained });
    this.log.info('crontab reloaded', { reason, added: someNames(plan.added), changed: someNames(plan.changed), removed: someNames(plan.removed), jobs: this.jobs.size });
    await this.apply?.({ jobs: this.jobs, added: plan.added, rescheduled: plan.rescheduled, removed: plan.removed, replaced: plan.replaced }, 'update');
    // Read, parse, plan and apply, for `npm run bench` (bench/scale.ts) and anyone tuning a large crontab.
    this.log.debug('crontab reload applied', { durationMs: Math.round(performance.now() - startedMs) });
  }
}

export function logDiagnostics(log: Logger, state: LoadState): void {
  for (const d of state.diagnostics) {
    log[d.severity === 'error' ? 'error' : 'warn']('crontab: ' + d.message, { file: d.file, line: d.line, column: d.column, text: d.text });
  }
}
