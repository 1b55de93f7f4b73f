import { socketPath } from '../../daemon/paths.js';
import { resolveDataDir, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';

export async function tuiCommand(opts: DataDirOptions): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError('dcron tui needs an interactive terminal (for scripts use dcron ls, history or logs)');
  // Ink draws only the final frame when it thinks it runs in CI (it reads CI
  // when first imported). An interactive terminal is never CI output, even in
  // a shell that exports CI=true, so say so before Ink is loaded.
  process.env.CI = 'false';
  const { runTui } = await import('../../tui/main.js');
  await runTui(socketPath(resolveDataDir(opts)));
}
