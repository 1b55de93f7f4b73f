import { createElement } from 'react';
import { render } from 'ink';
import { socketPath } from '../../daemon/paths.js';
import { daemonActions } from '../../tui/actions.js';
import { App } from '../../tui/app.js';
import { DaemonFeed } from '../../tui/daemon-feed.js';
import { colorWanted } from '../../tui/format.js';
import { resolveDataDir, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';

// The alternate screen keeps a day of redraws out of the terminal's scrollback.
const ENTER_ALT_SCREEN = '\x1b[?1049h';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

export async function tuiCommand(opts: DataDirOptions): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError('dcron tui needs an interactive terminal (for scripts use dcron ls, history or logs)');
  const socket = socketPath(resolveDataDir(opts));
  const feed = new DaemonFeed({ socketPath: socket });
  process.stdout.write(ENTER_ALT_SCREEN);
  try {
    const app = render(createElement(App, { feed, actions: daemonActions(socket), socketPath: socket, color: colorWanted(process.env) }), { patchConsole: false });
    await app.waitUntilExit();
  } finally {
    process.stdout.write(LEAVE_ALT_SCREEN);
  }
}
