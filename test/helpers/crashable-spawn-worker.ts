/**
 * The real spawn worker, which tests can kill: a job whose command contains
 * `#crash-worker` makes it throw (uncaught), `#exit-worker` makes it exit,
 * right after the real worker has handled that start.
 */
import '../../src/daemon/executor/spawn-worker.js';
import type { ToWorker } from '../../src/daemon/executor/spawn-protocol.js';

process.on('message', (msg: ToWorker) => {
  if (msg.type !== 'start') return;
  if (msg.options.command.includes('#crash-worker')) throw new Error('boom in the spawn worker');
  if (msg.options.command.includes('#exit-worker')) process.exit(7);
});
