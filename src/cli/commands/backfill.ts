import type { BackfillTickView } from '../../daemon/control/api-types.js';
import type { ControlClient } from '../../daemon/control/client.js';
import { withDaemon, type DataDirOptions } from '../context.js';
import { UsageError, UserError } from '../errors.js';
import { localTime } from '../format.js';
import { parseInstant } from '../instant.js';
import { ProgressBar } from '../progress.js';

export interface BackfillOptions extends DataDirOptions {
  from: string;
  to: string;
  parallel?: string;
}

export interface BackfillSummary {
  ok: number;
  failed: number;
  refused: number;
}

export async function backfillCommand(job: string, opts: BackfillOptions): Promise<void> {
  const fromMs = parseInstant('--from', opts.from);
  const toMs = parseInstant('--to', opts.to);
  const parallel = parseParallel(opts.parallel);
  const summary = await withDaemon(opts, async (c) => {
    const { ticks } = await c.call('backfillPlan', { job, fromMs, toMs, parallel });
    if (ticks.length === 0) {
      process.stdout.write(`${job} has no tick from ${localTime(fromMs)} to ${localTime(toMs)}: nothing to backfill\n`);
      return { ok: 0, failed: 0, refused: 0 };
    }
    process.stdout.write(`backfilling ${ticks.length} tick(s) of ${job}, ${localTime(ticks[0])} to ${localTime(ticks[ticks.length - 1])}, ${parallel} at a time\n`);
    return runAll(c, job, ticks, parallel);
  });
  process.stdout.write(`${job}: ${summary.ok} ran ok, ${summary.failed} failed, ${summary.refused} refused (already backfilled or already ran)\n`);
  if (summary.failed > 0) throw new UserError(`${summary.failed} backfilled tick(s) of ${job} failed (dcron history ${job} shows them)`);
}

/** At most `parallel` ticks in flight; each answer comes when its runs ended. */
async function runAll(c: ControlClient, job: string, ticks: number[], parallel: number): Promise<BackfillSummary> {
  const summary: BackfillSummary = { ok: 0, failed: 0, refused: 0 };
  const bar = new ProgressBar(ticks.length);
  let next = 0;
  let done = 0;
  const report = (r: BackfillTickView) => {
    done++;
    if (r.outcome === 'refused') summary.refused++;
    else if (r.outcome === 'failed') summary.failed++;
    else summary.ok++;
    // Off a terminal every tick gets its line; on one, only what needs a look stays above the bar.
    if (!bar.interactive || r.outcome !== 'ok') bar.log(`${localTime(r.tickMs)}  ${r.outcome}${r.message ? `: ${r.message}` : ''}${r.runIds.length > 0 ? `  (run ${r.runIds.join(', ')})` : ''}`);
    bar.update(done, `${summary.ok} ok, ${summary.failed} failed, ${summary.refused} refused`);
  };
  const worker = async () => {
    while (next < ticks.length) {
      const tickMs = ticks[next++];
      report(await c.call('backfillTick', { job, tickMs, wait: true }));
    }
  };
  bar.update(0, 'starting');
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, ticks.length) }, worker));
  } finally {
    bar.done();
  }
  return summary;
}

function parseParallel(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 64) throw new UsageError(`--parallel must be a whole number from 1 to 64, got '${text}'`);
  return n;
}
