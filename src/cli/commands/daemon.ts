import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger, type LogLevel } from '../../daemon/log.js';
import { resolveDataDir, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { loadConfig } from '../config-file.js';
import type { Command } from 'commander';
import type { ReadOutcome } from '../../daemon/crontab/option-values.js';
import { InvalidDaemonSettingError, settingsFromFlags, type DaemonSettings } from '../../daemon/config/daemon-config.js';
import { readEndpoints, readGroupLimit, readLabel, readMetricsListen, readPeerListen, readSegment, readWebhook } from '../../daemon/config/daemon-flags.js';
import type { ClusterOptions } from '../../daemon/cluster/cluster-runtime.js';

interface DaemonFlags extends DataDirOptions {
  config?: string;
  crontab?: string;
  nodeId?: string;
  etcd?: string;
  cluster: string;
  label: string[];
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  peerListen: string;
  peerAdvertise?: string;
  peerSecretFile?: string;
  leaseTtl: string;
  claimHandicap: string;
  claimLead: string;
  logLevel: LogLevel;
  drainGrace: string;
  keepRuns: string;
  slots: string;
  group: string[];
  maxLogSize: string;
  metrics?: string;
  alertWebhook?: string;
}

export async function daemonCommand(flags: DaemonFlags, cmd?: Command): Promise<void> {
  // The config file fills in what neither a flag nor an env variable set: flags > env > file > defaults.
  if (cmd && loadConfig(cmd, flags.config) !== null) flags = cmd.opts<DaemonFlags>();
  if (!flags.crontab && !flags.etcd) throw new UsageError('no crontab to run: pass --crontab FILE (or set DCRON_CRONTAB), or join a cluster with --etcd');
  const nodeId = flag('--node-id', readSegment, flags.nodeId ?? hostname());
  const settings = readSettings(flags);
  const alertWebhook = flags.alertWebhook === undefined ? null : flag('--alert-webhook', readWebhook, flags.alertWebhook);
  const metricsListen = flags.metrics ? flag('--metrics', readMetricsListen, flags.metrics) : undefined;
  const groups = readGroups(flags.group);

  const log = createLogger({ level: flags.logLevel });
  const daemon = await Daemon.start({
    crontab: flags.crontab ? resolve(flags.crontab) : null,
    cluster: flags.etcd ? clusterOptions(flags, settings) : undefined,
    dataDir: resolveDataDir(flags),
    nodeId,
    log,
    settings,
    groups,
    alertWebhook,
    metricsListen,
  }).catch(async (err: unknown) => {
    if (!flags.etcd) throw err;
    const { explainEtcdAccess } = await import('../../daemon/coordination/etcd/access-error.js');
    throw explainEtcdAccess(err, { user: flags.etcdUser, cluster: flags.cluster });
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

/** `--group NAME=K`, repeatable; a group named twice is a mistake, not a choice of the last. */
function readGroups(texts: string[]): Record<string, number> {
  const groups: Record<string, number> = {};
  for (const text of texts) {
    const [name, limit] = flag('--group', readGroupLimit, text);
    if (name in groups) throw new UsageError(`--group: group '${name}' is given twice`);
    groups[name] = limit;
  }
  return groups;
}

/** The flag's value as `read` takes it; a value it refuses is a usage error naming the flag. */
function flag<T>(name: string, read: (text: string) => ReadOutcome<T>, text: string): T {
  const outcome = read(text);
  if (!outcome.ok) throw new UsageError(`${name}: ${outcome.message}`);
  return outcome.value;
}

/** The daemon-config settings the flags set; commander keeps `--claim-lead` as `claimLead`. */
function readSettings(flags: DaemonFlags): DaemonSettings {
  const byAttribute = flags as unknown as Record<string, string | undefined>;
  try {
    return settingsFromFlags((name) => byAttribute[name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())]);
  } catch (err) {
    if (err instanceof InvalidDaemonSettingError) throw new UsageError(err.message);
    throw err;
  }
}

function clusterOptions(flags: DaemonFlags, settings: DaemonSettings): ClusterOptions {
  const endpoints = flag('--etcd', readEndpoints, flags.etcd!);
  const cluster = flag('--cluster', readSegment, flags.cluster);
  const labels = Object.fromEntries(flags.label.map((l) => flag('--label', readLabel, l)));
  const listen = flag('--peer-listen', readPeerListen, flags.peerListen);
  const password = process.env.DCRON_ETCD_PASSWORD;
  if (flags.etcdUser && password === undefined) throw new UsageError('--etcd-user needs the password in DCRON_ETCD_PASSWORD');
  return {
    etcd: {
      endpoints,
      tls: flags.etcdCa || flags.etcdCert || flags.etcdKey ? { caFile: flags.etcdCa, certFile: flags.etcdCert, keyFile: flags.etcdKey } : undefined,
      auth: flags.etcdUser ? { username: flags.etcdUser, password: password! } : undefined,
    },
    cluster,
    labels,
    leaseTtlSeconds: settings.leaseTtlSeconds,
    handicapMs: settings.handicapMs,
    peerListen: listen,
    peerAdvertise: flags.peerAdvertise ?? null,
    peerSecretFile: flags.peerSecretFile ?? null,
  };
}
