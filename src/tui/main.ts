import { createElement } from 'react';
import { render } from 'ink';
import { daemonActions } from './actions.js';
import { App } from './app.js';
import { DaemonFeed } from './daemon-feed.js';
import { colorWanted } from './format.js';

// The alternate screen keeps a day of redraws out of the terminal's scrollback.
const ENTER_ALT_SCREEN = '\x1b[?1049h';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

/** Runs the TUI against the daemon at `socket` until the user quits. */
export async function runTui(socket: string): Promise<void> {
  const feed = new DaemonFeed({ socketPath: socket });
  process.stdout.write(ENTER_ALT_SCREEN);
  try {
    const app = render(createElement(App, { feed, actions: daemonActions(socket), socketPath: socket, color: colorWanted(process.env) }), { patchConsole: false });
    await app.waitUntilExit();
  } finally {
    process.stdout.write(LEAVE_ALT_SCREEN);
  }
}
