import { useEffect, useState } from 'react';

/** Wall-clock ms, refreshed every `intervalMs`, for countdowns and elapsed times. */
export function useClock(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
