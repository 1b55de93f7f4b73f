import type { Logger } from '../log.js';
import { VERSION } from '../version.js';

/** The JSON body POSTed when a run's last attempt failed or timed out. */
export interface WebhookPayload {
  job: string;
  runId: string;
  /** Scheduled instant, ISO 8601 with the job's offset (as DCRON_TICK). */
  tick: string;
  tickMs: number;
  host: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  attempt: number;
  trigger: string;
  message: string | null;
  startedMs: number;
  endedMs: number | null;
  /** The last few KiB of the run's output, as text. */
  outputTail: string;
  /** Sharded jobs: the tick's shard count, and the shards known failed when it failed (the run above is the first). */
  shards?: number;
  failedShards?: number[];
  /** mode=all jobs in a cluster: the hosts known failed when the tick failed (the run above is the first). */
  failedHosts?: string[];
}

export interface WebhookOptions {
  log: Logger;
  /** Per request. */
  timeoutMs?: number;
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Wait before the n-th retry: backoffMs × 2^(n-1). */
  backoffMs?: number;
}

/** Why one attempt failed, and whether another could succeed. */
type AttemptResult = { ok: true; status: number } | { ok: false; retry: boolean; error: string };

/**
 * POSTs `payload` to `url`, retrying network errors, timeouts, 429 and 5xx
 * with exponential backoff. Never throws: the outcome goes to the log, since
 * an unreachable alert endpoint must not disturb the daemon.
 */
export async function sendWebhook(url: string, payload: WebhookPayload, opts: WebhookOptions): Promise<boolean> {
  const attempts = opts.attempts ?? 4;
  const backoffMs = opts.backoffMs ?? 500;
  const fields = { job: payload.job, run: payload.runId, url: redact(url) };
  let last: AttemptResult = { ok: false, retry: false, error: 'not sent' };
  for (let n = 1; n <= attempts; n++) {
    last = await postOnce(url, payload, opts.timeoutMs ?? 5000);
    if (last.ok) {
      opts.log.info('alert webhook delivered', { ...fields, status: last.status, attempt: n });
      return true;
    }
    if (!last.retry || n === attempts) break;
    opts.log.debug('alert webhook attempt failed, retrying', { ...fields, attempt: n, error: last.error });
    await new Promise((r) => setTimeout(r, backoffMs * 2 ** (n - 1)));
  }
  opts.log.warn('alert webhook failed', { ...fields, error: last.ok ? '' : last.error });
  return false;
}

async function postOnce(url: string, payload: WebhookPayload, timeoutMs: number): Promise<AttemptResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': `dcron/${VERSION}` },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
    // The body is not used; reading it lets the connection be reused or closed.
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { ok: true, status: res.status };
    return { ok: false, retry: res.status >= 500 || res.status === 429, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, retry: true, error: why };
  }
}

/** Webhook URLs often carry a token in the path or query: log only where they go. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.length > 1 ? '/…' : '/'}`;
  } catch {
    return '(invalid URL)';
  }
}
