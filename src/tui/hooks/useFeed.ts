import { useEffect, useState } from 'react';
import type { TuiState } from '../model.js';

/** The part of DaemonFeed the TUI relies on, so tests can pass a plain emitter. */
export interface FeedSource {
  state(): TuiState;
  on(event: 'change', listener: (state: TuiState) => void): unknown;
  off(event: 'change', listener: (state: TuiState) => void): unknown;
  start(): unknown;
  stop(): unknown;
}

/** The feed's latest state; the feed runs while the component is mounted. */
export function useFeed(feed: FeedSource): TuiState {
  const [state, setState] = useState(() => feed.state());
  useEffect(() => {
    feed.on('change', setState);
    void feed.start();
    // A change may have landed between the first render and subscribing.
    setState(feed.state());
    return () => {
      feed.off('change', setState);
      void feed.stop();
    };
  }, [feed]);
  return state;
}
