import { hostname } from 'node:os';
import { parseDuration } from '../../daemon/crontab/duration.js';
import { parseSize } from '../../daemon/crontab/size.js';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger, type LogLevel } from '../../daemon/log.js';
import { resolveDataDir, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';

interface DaemonFlags extends DataDirOptions {
  crontab?: string;
  nodeId?: string;
  logLevel: LogLevel;
  drainGrace: string;
  keepRuns: string;
  maxLogSize: string;
}

export async function daemonCommand(flags: DaemonFlags): Promise<void> {
  if (!flags.crontab) throw new UsageError('no crontab to run: pass --crontab FILE (or set DCRON_CRONTAB)');
  const drainGraceMs = parseDuration(flags.drainGrace);
  if (drainGraceMs === null) throw new UsageError(`--drain-grace: '${flags.drainGrace}' is not a duration (e.g. 30s, 5m)`);
  const keepRunsPerJob = Number(flags.keepRuns);
  if (!Number.isInteger(keepRunsPerJob) || keepRunsPerJob < 1) throw new UsageError(`--keep-runs must be a positive whole number, got '${flags.keepRuns}'`);
  const maxLogBytes = parseSize(flags.maxLogSize);
  if (maxLogBytes === null) throw new UsageError(`--max-log-size: '${flags.maxLogSize}' is not a size (e.g. 512MiB, 2GB)`);

  const log = createLogger({ level: flags.logLevel });
  const daemon = await Daemon.start({
    crontab: flags.crontab,
    dataDir: resolveDataDir(flags),
    nodeId: flags.nodeId ?? hostname(),
    log,
    drainGraceMs,
    keepRunsPerJob,
    maxLogBytes,
  });

  process.on('SIGHUP', () => void daemon.reload('SIGHUP'));
  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) {
      log.warn('second signal: exiting now without waiting for running jobs', { signal });
      process.exit(1);
    }
    log.info('received signal, draining', { signal });
    void daemon.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err }));
  // Keep the process alive until a signal stops it.
  await new Promise<never>(() => {});
}
