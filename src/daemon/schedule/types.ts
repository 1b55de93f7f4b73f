/**
 * A schedule answers one question: the first tick strictly after an instant.
 * Ticks are absolute instants in Unix milliseconds, always whole seconds.
 */
export interface Schedule {
  /** First tick > afterMs, or null when the schedule never fires again. */
  next(afterMs: number): number | null;
}
