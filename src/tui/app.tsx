import { useMemo, useRef, useState } from 'react';
import { Box, useApp } from 'ink';
import { ColorContext } from './color.js';
import { shortId } from './format.js';
import type { TuiActions } from './actions.js';
import { Banner, bannerHeight } from './components/Banner.js';
import { Footer } from './components/Footer.js';
import { Header } from './components/Header.js';
import { HelpOverlay } from './components/HelpOverlay.js';
import { HistoryList } from './components/HistoryList.js';
import { JobList } from './components/JobList.js';
import { LiveRunList } from './components/LiveRunList.js';
import { LogView } from './components/LogView.js';
import { NodeList } from './components/NodeList.js';
import { OutputTail } from './components/OutputTail.js';
import { useClock } from './hooks/useClock.js';
import { useFeed, type FeedSource } from './hooks/useFeed.js';
import { useKeypresses } from './hooks/useKeypresses.js';
import { useLogStream } from './hooks/useLogStream.js';
import { useTerminalSize } from './hooks/useTerminalSize.js';
import { VIEWS, VIEW_TITLES, cursorOf, initialNav, keysFor, listsFor, navigate, type Effect, type NavState } from './navigate.js';

export interface AppProps {
  feed: FeedSource;
  actions: TuiActions;
  /** Control socket, for following a run's output. */
  socketPath: string;
  color: boolean;
}

type Say = (message: NavState['message']) => void;

async function perform(effect: Effect, actions: TuiActions, say: Say, exit: () => void): Promise<void> {
  const failed = (what: string, err: unknown) => say({ text: `${what}: ${err instanceof Error ? err.message : String(err)}`, tone: 'red' });
  switch (effect.type) {
    case 'quit':
      return exit();
    case 'run':
      try {
        const r = await actions.run(effect.job);
        if (r.outcome === 'started') say({ text: `started run ${shortId(r.runId ?? '')} of ${effect.job} · tab to Runs to watch it`, tone: 'green' });
        else say({ text: `${effect.job} ${r.outcome}${r.message ? `: ${r.message}` : ''}`, tone: 'yellow' });
      } catch (err) {
        failed(`could not run ${effect.job}`, err);
      }
      return;
    case 'pause':
    case 'resume':
      try {
        if (effect.type === 'pause') {
          await actions.pause(effect.job);
          say({ text: `paused ${effect.job} on every host: its ticks are recorded paused · p resumes`, tone: 'green' });
        } else {
          const { resumed } = await actions.resume(effect.job);
          say({ text: resumed ? `resumed ${effect.job}: its next tick runs` : `${effect.job} was not paused`, tone: resumed ? 'green' : 'yellow' });
        }
      } catch (err) {
        failed(`could not ${effect.type} ${effect.job}`, err);
      }
      return;
    case 'kill':
      try {
        const { killed } = await actions.kill(effect.target.job, effect.target.runId);
        if (killed.length === 0) say({ text: `${effect.target.job} had nothing running to kill`, tone: 'yellow' });
        else say({ text: `killed ${killed.map(shortId).join(', ')} of ${effect.target.job} (its whole process group)`, tone: 'green' });
      } catch (err) {
        failed(`could not kill ${effect.target.job}`, err);
      }
  }
}

/** The composition root: hooks bring the data in, components draw it, navigate() decides what keys do. */
export function App({ feed, actions, socketPath, color }: AppProps) {
  const state = useFeed(feed);
  const nowMs = useClock();
  const { columns, rows } = useTerminalSize();
  const { exit } = useApp();
  const [nav, setNav] = useState(initialNav);
  const lists = useMemo(() => listsFor(state, nav.filter, nav.scope), [state, nav.filter, nav.scope]);

  // Ink clears the whole screen on every frame as tall as the terminal; one spare line avoids that flicker.
  const body = Math.max(4, rows - 1 - 1 - bannerHeight(state) - 2);
  const cursor = cursorOf(nav, nav.view, lists);
  const liveRun = nav.view === 'runs' ? lists.runs[cursor] : undefined;
  const streamId = nav.log?.runId ?? liveRun?.id ?? null;
  const stream = useLogStream(socketPath, streamId);
  // For one render after the selection moves, the stream still holds the previous run's lines.
  const run = stream.run?.id === streamId ? stream.run : null;
  const lines = run ? stream.lines : [];

  // Keys can arrive before React re-subscribes the handler of the latest render; read the newest state from here.
  const rendered = { nav, state, listed: { filter: nav.filter, scope: nav.scope, lists }, page: Math.max(1, body - 2), log: { first: stream.first, count: lines.length } };
  const latest = useRef(rendered);
  latest.current = rendered;
  useKeypresses((input, key) => {
    const now = latest.current;
    // Keys that came in one read see no render between them: after "/beta" and Enter, an r must act on the filtered rows.
    if (now.listed.filter !== now.nav.filter || now.listed.scope !== now.nav.scope) {
      now.listed = { filter: now.nav.filter, scope: now.nav.scope, lists: listsFor(now.state, now.nav.filter, now.nav.scope) };
    }
    const step = navigate(now.nav, input, key, { lists: now.listed.lists, page: now.page, log: now.log });
    now.nav = step.nav;
    setNav(step.nav);
    if (step.effect) void perform(step.effect, actions, (message) => setNav((n) => ({ ...n, message })), exit);
  });

  const view = (() => {
    if (nav.help) return <HelpOverlay height={body} />;
    if (nav.log) return <LogView runId={nav.log.runId} job={nav.log.job} run={run} lines={lines} first={stream.first} top={nav.log.top} height={body} nowMs={nowMs} error={stream.error} />;
    switch (nav.view) {
      case 'jobs':
        return <JobList jobs={lists.jobs} cursor={cursor} height={body} width={columns} nowMs={nowMs} filter={nav.filter} />;
      case 'runs': {
        const listHeight = Math.max(4, Math.min(lists.runs.length + 2, Math.floor(body / 2)));
        return (
          <Box flexDirection="column">
            <LiveRunList runs={lists.runs} cursor={cursor} height={listHeight} width={columns} nowMs={nowMs} />
            <OutputTail run={liveRun ?? null} lines={lines} height={body - listHeight} />
          </Box>
        );
      }
      case 'history':
        return <HistoryList runs={lists.history} cursor={cursor} height={body} width={columns} nowMs={nowMs} job={nav.scope} />;
      case 'nodes':
        return <NodeList nodes={lists.nodes} cursor={cursor} height={body} width={columns} />;
    }
  })();

  return (
    <ColorContext.Provider value={color}>
      <Box flexDirection="column" width={columns} height={rows - 1}>
        <Header status={state.status} tabs={VIEWS.map((v) => VIEW_TITLES[v])} active={VIEWS.indexOf(nav.view)} />
        <Banner connected={state.connected} error={state.error} retryAtMs={state.retryAtMs} nowMs={nowMs} />
        <Box height={body} flexDirection="column" overflow="hidden">
          {view}
        </Box>
        <Footer keys={keysFor(nav)} confirm={nav.confirm?.question ?? null} typing={nav.typing ? nav.filter : null} message={nav.message} />
      </Box>
    </ColorContext.Provider>
  );
}
