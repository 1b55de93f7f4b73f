import type { Schedule } from '../schedule/types.js';

export interface DueInput {
  /** Ticks that came due, oldest first. */
  ticks: number[];
  /** More ticks passed unlisted after the last one, up to this instant. */
  overflowUntil: number | null;
  nowMs: number;
  /** When this daemon started: ticks before it were missed while it was down. */
  daemonStartMs: number;
  catchupMs: number;
  /** How late a tick may start and still count as on time (event-loop stalls, small clock steps). */
  lateGraceMs: number;
  /** The job's schedule, to find the catch-up tick among unlisted ones. */
  schedule: Schedule | null;
}

export interface DuePlan {
  run: Array<{ tickMs: number; trigger: 'schedule' | 'catchup' }>;
  /** Ticks that will not run, each to be recorded as missed. */
  missed: number[];
  /** Ticks passed over without being listed (beyond the per-wake cap). */
  unlisted: { afterMs: number; untilMs: number } | null;
}

/**
 * Decides what happens to ticks that came due: on time (or late within a
 * small grace while the daemon ran) they run; otherwise only the latest tick
 * inside the job's catch-up window runs, once, and the rest are missed.
 */
export function planDueTicks(input: DueInput): DuePlan {
  const { nowMs, daemonStartMs, catchupMs, lateGraceMs } = input;
  const onTime = (t: number) => t >= daemonStartMs && nowMs - t <= lateGraceMs;
  let ticks = input.ticks;
  let unlisted: DuePlan['unlisted'] = null;
  if (input.overflowUntil !== null && ticks.length > 0) {
    // The listed ticks are the oldest; the catch-up candidate may be among the unlisted newest.
    const windowStart = Math.max(ticks[ticks.length - 1], nowMs - Math.max(catchupMs, lateGraceMs) - 1);
    const recent = ticksBetween(input.schedule, windowStart, input.overflowUntil);
    if (recent.length > 0 && recent[0] > (ticks[ticks.length - 1] ?? 0)) {
      unlisted = { afterMs: ticks[ticks.length - 1], untilMs: recent[0] };
    }
    ticks = [...ticks, ...recent];
  }
  const plan: DuePlan = { run: [], missed: [], unlisted };
  const late = ticks.filter((t) => !onTime(t));
  const catchupTick = [...late].reverse().find((t) => nowMs - t <= catchupMs);
  for (const t of ticks) {
    if (onTime(t)) plan.run.push({ tickMs: t, trigger: 'schedule' });
    else if (t === catchupTick) plan.run.push({ tickMs: t, trigger: 'catchup' });
    else plan.missed.push(t);
  }
  return plan;
}

function ticksBetween(schedule: Schedule | null, afterMs: number, untilMs: number): number[] {
  const out: number[] = [];
  for (let t = schedule?.next(afterMs) ?? null; t !== null && t <= untilMs; t = schedule!.next(t)) out.push(t);
  return out;
}
