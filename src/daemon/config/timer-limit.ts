/**
 * Longest delay dcron hands to a timer. Node's setTimeout fires after 1 ms
 * instead of waiting when asked for more than 2^31-1 ms (about 24.8 days), so
 * every duration that becomes a timer (job timeouts, retry delays, jitter,
 * kill and drain graces) is bounded by this. Whole days rather than 2^31-1
 * itself, so an error can say "at most 24d" instead of "24d20h31m23s647ms".
 */
export const MAX_TIMER_MS = 24 * 86_400_000;
