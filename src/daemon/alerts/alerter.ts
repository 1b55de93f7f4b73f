/**
 * Tells people about runs: after a tick's last attempt failed (or timed out)
 * the job's `on-failure` command and the webhooks (`--alert-webhook`, the
 * job's `on-failure-webhook`); after any run that printed something, a mail
 * to the job's MAILTO. All of it runs in the background: an alert that fails
 * is logged, never thrown, and never holds up the executor.
 */
import type { JobDefinition } from '../crontab/types.js';
import type { RunLog } from '../runlog/run-log.js';
import type { OutputChunk, RunRecord } from '../runlog/types.js';
import type { Logger } from '../log.js';
import { formatTick } from '../schedule/format.js';
import { runFailureHook } from '../executor/failure-hook.js';
import { sendWebhook, type WebhookOptions, type WebhookPayload } from './webhook.js';
import { Mailer } from './mail.js';

/** Output sent with a webhook: the end of it, where errors usually are. */
const OUTPUT_TAIL_BYTES = 4096;

/** A whole tick that failed, alerted once: the shards or (mode=all) the hosts known failed so far. */
export type TickFailure = { shards: readonly number[] } | { hosts: readonly string[] };

export interface AlerterOptions {
  runLog: RunLog;
  log: Logger;
  /** The daemon's `--alert-webhook`, called for every job's failures. */
  webhook?: string | null;
  /** The daemon's environment (PATH for sendmail). */
  env?: NodeJS.ProcessEnv;
  /** Absolute paths where sendmail is looked for after PATH. */
  sendmailPaths?: readonly string[];
  /** Retry and timeout settings of webhook calls. */
  webhookOptions?: Omit<WebhookOptions, 'log'>;
}

export class Alerter {
  private readonly mailer: Mailer;

  constructor(private readonly opts: AlerterOptions) {
    this.mailer = new Mailer({ log: opts.log, env: opts.env ?? process.env, sendmailPaths: opts.sendmailPaths });
  }

  /** Every finished run (each attempt): mail its output to MAILTO, if set. */
  runFinished(job: JobDefinition, run: RunRecord): void {
    if (Mailer.recipients(job) === null) return;
    this.background('mail', run, async () => this.mailer.mailOutput(job, run, this.opts.runLog.readOutput(run.id)));
  }

  /** A tick's last attempt failed or timed out: run the hook and call the webhooks. */
  chainFailed(job: JobDefinition, run: RunRecord, runEnv: Record<string, string>, tick?: TickFailure): void {
    const env = tick === undefined ? runEnv : 'shards' in tick ? { ...runEnv, DCRON_FAILED_SHARDS: tick.shards.join(',') } : { ...runEnv, DCRON_FAILED_HOSTS: tick.hosts.join(',') };
    this.background('on-failure hook', run, () => runFailureHook(job, run, env, this.opts.log));
    const urls = [...new Set([this.opts.webhook, job.options.onFailureWebhook].filter((u): u is string => !!u))];
    if (urls.length === 0) return;
    this.background('webhook', run, async () => {
      const payload = webhookPayload(job, run, this.opts.runLog.readOutput(run.id));
      if (tick && 'shards' in tick) {
        payload.shards = job.options.shards;
        payload.failedShards = [...tick.shards];
      } else if (tick) {
        payload.failedHosts = [...tick.hosts];
      }
      await Promise.all(urls.map((url) => sendWebhook(url, payload, { ...this.opts.webhookOptions, log: this.opts.log })));
    });
  }

  private background(what: string, run: RunRecord, work: () => Promise<void>): void {
    void work().catch((err: unknown) => this.opts.log.error(`alert ${what} failed inside dcron`, { job: run.job, run: run.id, err }));
  }
}

export function webhookPayload(job: JobDefinition, run: RunRecord, output: OutputChunk[]): WebhookPayload {
  return {
    job: run.job,
    runId: run.id,
    tick: formatTick(run.tickMs, job.tz),
    tickMs: run.tickMs,
    host: run.host,
    status: run.status,
    exitCode: run.exitCode,
    signal: run.signal,
    attempt: run.attempt,
    trigger: run.trigger,
    message: run.message,
    startedMs: run.startedMs,
    endedMs: run.endedMs,
    outputTail: outputTail(output, OUTPUT_TAIL_BYTES),
  };
}

/** The last `maxBytes` of the output as text, not starting inside a UTF-8 character. */
export function outputTail(output: OutputChunk[], maxBytes: number): string {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = output.length - 1; i >= 0 && size < maxBytes; i--) {
    parts.unshift(output[i].data);
    size += output[i].data.length;
  }
  let tail = Buffer.concat(parts);
  if (tail.length > maxBytes) {
    tail = tail.subarray(tail.length - maxBytes);
    let skip = 0;
    while (skip < 3 && skip < tail.length && (tail[skip] & 0xc0) === 0x80) skip++;
    tail = tail.subarray(skip);
  }
  return tail.toString('utf8');
}
