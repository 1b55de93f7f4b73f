import { parseScheduleText } from '../../daemon/crontab/parse.js';
import { hostTimeZone } from '../../daemon/jobs/crontab-source.js';
import { formatTick, isValidTimeZone, nextTicks, scheduleFor } from '../../daemon/schedule/index.js';
import { UsageError, UserError } from '../errors.js';
import { parseInstant } from '../instant.js';

const MAX_TICKS = 10_000;

export async function nextCommand(expr: string, opts: { n: string; from?: string; tz?: string; json?: boolean }): Promise<void> {
  const n = Number(opts.n);
  if (!Number.isInteger(n) || n < 1 || n > MAX_TICKS) throw new UsageError(`-n must be a whole number from 1 to ${MAX_TICKS}, got '${opts.n}'`);
  const tz = opts.tz ?? hostTimeZone();
  if (!isValidTimeZone(tz)) throw new UsageError(`unknown time zone '${tz}' (use an IANA name such as Europe/Berlin or UTC)`);
  const from = opts.from === undefined ? Date.now() : parseInstant('--from', opts.from);

  const parsed = parseScheduleText(expr);
  if (!parsed.ok) throw new UserError(`${parsed.message}\n  ${expr}\n  ${' '.repeat(Math.max(0, parsed.column - 1))}^`);
  const schedule = scheduleFor(parsed.spec, tz);
  if (!schedule) throw new UserError(`'${expr}' has no clock ticks: @delay runs relative to the previous run and @reboot at daemon start`);

  const ticks = nextTicks(schedule, from, n).map((t) => formatTick(t, tz));
  if (opts.json) {
    process.stdout.write(JSON.stringify({ next: ticks }) + '\n');
    return;
  }
  if (ticks.length === 0) process.stderr.write(`'${expr}' never fires\n`);
  for (const t of ticks) process.stdout.write(t + '\n');
}
