/**
 * Time as the scheduler sees it. Injected so tests can move time by hand
 * (including jumps backwards and forwards) instead of sleeping.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall clock, Unix ms. */
  now(): number;
  /** Call `fn` after about `delayMs` of real (or fake) time. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  },
};
