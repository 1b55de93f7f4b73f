/**
 * Create-once claims of past ticks run by `dcron backfill` and `dcron run
 * --tick`. They are apart from the job's cursor on purpose: a backfilled
 * tick lies behind the cursor, where a claim would always lose, and moving
 * the cursor back would let the scheduler run later ticks again.
 */
export interface BackfillClaims {
  /** True for exactly one caller per unit and tick, cluster-wide, ever. */
  claim(unit: string, tickMs: number): Promise<boolean>;
  /** Gives a claim back when its tick did not run after all (overlap=skip found the job busy). */
  release(unit: string, tickMs: number): Promise<void>;
}
