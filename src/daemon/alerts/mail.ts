/**
 * MAILTO, as cron does it: a run that printed anything has its output mailed
 * through the local `sendmail -t` to the addresses in the job's MAILTO.
 *
 * One difference from cron, on purpose: with MAILTO unset, cron mails the
 * crontab's owner; dcron mails nobody. Run output is kept in the run log
 * (`dcron logs`), and a daemon that suddenly mails root on hosts where mail
 * was never set up would only fill local spools. `MAILTO=""` disables mail in
 * both.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import type { JobDefinition } from '../crontab/types.js';
import type { OutputChunk, RunRecord } from '../runlog/types.js';
import type { Logger } from '../log.js';

/** Where cron implementations find sendmail when it is not on PATH. */
export const SENDMAIL_PATHS: readonly string[] = ['/usr/sbin/sendmail', '/usr/lib/sendmail'];
/** Output mailed per run; the rest is left in the run log. */
const MAX_BODY_BYTES = 256 * 1024;
const SENDMAIL_TIMEOUT_MS = 60_000;

export interface MailOptions {
  log: Logger;
  /** The daemon's environment: its PATH is searched first, and sendmail runs with it. */
  env: NodeJS.ProcessEnv;
  /** Absolute paths tried after PATH. */
  sendmailPaths?: readonly string[];
}

/** The first executable `sendmail` on PATH, then at the usual absolute paths; null when none. */
export function findSendmail(env: NodeJS.ProcessEnv, paths: readonly string[] = SENDMAIL_PATHS): string | null {
  const onPath = (env.PATH ?? '').split(delimiter).filter((d) => d.startsWith('/')).map((d) => join(d, 'sendmail'));
  for (const candidate of [...onPath, ...paths]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Sends cron-style mails of run output; warns once per daemon when no sendmail exists. */
export class Mailer {
  private warnedNoSendmail = false;

  constructor(private readonly opts: MailOptions) {}

  /** The job's MAILTO when mail is on for it: set and not empty. */
  static recipients(job: JobDefinition): string | null {
    const to = job.env.MAILTO?.trim();
    return to ? to : null;
  }

  /** Mails the run's output if MAILTO is set and there was any; resolves when sendmail is done. */
  async mailOutput(job: JobDefinition, run: RunRecord, output: OutputChunk[]): Promise<void> {
    const to = Mailer.recipients(job);
    if (to === null) return;
    if (!output.some((c) => c.stream !== 'system' && c.data.length > 0)) return;
    const sendmail = findSendmail(this.opts.env, this.opts.sendmailPaths);
    if (sendmail === null) {
      if (!this.warnedNoSendmail) {
        this.warnedNoSendmail = true;
        const where = [...SENDMAIL_PATHS, ...(this.opts.sendmailPaths ?? [])].filter((p, i, all) => all.indexOf(p) === i);
        this.opts.log.warn(`MAILTO is set but no sendmail is installed (looked on PATH and at ${where.join(', ')}): job output will not be mailed; install one (e.g. msmtp-mta or postfix) or set MAILTO="" to silence this. Shown once.`, { job: job.name });
      }
      return;
    }
    const message = composeMail(job, run, to, output);
    await this.send(sendmail, message, { job: job.name, run: run.id, to });
  }

  private send(sendmail: string, message: Buffer, fields: Record<string, unknown>): Promise<void> {
    return new Promise((resolve) => {
      // -t: recipients from the headers; -oi: a line of a single '.' does not end the message.
      const child = spawn(sendmail, ['-t', '-oi'], { env: this.opts.env, stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), SENDMAIL_TIMEOUT_MS);
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2000)));
      child.stdin.on('error', () => {}); // sendmail exiting early shows in its status
      child.on('error', (err) => {
        clearTimeout(timer);
        this.opts.log.warn('cannot run sendmail', { ...fields, sendmail, err });
        resolve();
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) this.opts.log.info('run output mailed', { ...fields, sendmail });
        else this.opts.log.warn('sendmail failed', { ...fields, sendmail, exitCode: code, signal, stderr: stderr.trim() });
        resolve();
      });
      child.stdin.end(message);
    });
  }
}

/** The message cron would send: its Subject is `Cron <user@host> command`. */
export function composeMail(job: JobDefinition, run: RunRecord, to: string, output: OutputChunk[]): Buffer {
  const user = currentUser();
  const host = hostname();
  const headers = [
    `From: ${user} (dcron) <${user}@${host}>`,
    `To: ${to}`,
    `Subject: Cron <${user}@${host}> ${job.command}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    'Auto-Submitted: auto-generated',
    'Precedence: bulk',
    `X-Dcron-Job: ${job.name}`,
    `X-Dcron-Run-Id: ${run.id}`,
    `X-Dcron-Status: ${run.status}`,
    `X-Dcron-Host: ${run.host}`,
  ].map(headerLine);
  let body = Buffer.concat(output.map((c) => c.data));
  if (body.length > MAX_BODY_BYTES) {
    const dropped = body.length - MAX_BODY_BYTES;
    body = Buffer.concat([body.subarray(0, MAX_BODY_BYTES), Buffer.from(`\n[dcron: ${dropped} more bytes not mailed; see dcron logs ${job.name} --run ${run.id}]\n`)]);
  }
  return Buffer.concat([Buffer.from(headers.join('\n') + '\n\n'), body]);
}

/** One header line: no line breaks (a value must not add headers), and not endless. */
function headerLine(line: string): string {
  const flat = line.replace(/[\r\n]+/g, ' ');
  return flat.length > 900 ? flat.slice(0, 897) + '...' : flat;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.LOGNAME ?? process.env.USER ?? 'dcron';
  }
}
