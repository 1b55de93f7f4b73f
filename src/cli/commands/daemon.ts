import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseDuration } from '../../daemon/crontab/duration.js';
import { parseSize } from '../../daemon/crontab/size.js';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger, type LogLevel } from '../../daemon/log.js';
import { resolveDataDir, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { loadConfig } from '../config-file.js';
import type { Command } from 'commander';
import { SAFE_SEGMENT } from '../../daemon/coordination/etcd/keys.js';
import { isHttpUrl } from '../../daemon/crontab/option-values.js';
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
  maxLogSize: string;
  metrics?: string;
  alertWebhook?: string;
}

export async function daemonCommand(flags: DaemonFlags, cmd?: Command): Promise<void> {
  // The config file fills in what neither a flag nor an env variable set: flags > env > file > defaults.
  if (cmd && loadConfig(cmd, flags.config) !== null) flags = cmd.opts<DaemonFlags>();
  if (!flags.crontab && !flags.etcd) throw new UsageError('no crontab to run: pass --crontab FILE (or set DCRON_CRONTAB), or join a cluster with --etcd');
  const nodeId = flags.nodeId ?? hostname();
  if (!SAFE_SEGMENT.test(nodeId)) throw new UsageError(`--node-id '${nodeId}': use letters, digits, '.', '_' or '-' (at most 128), starting with a letter or digit`);
  const drainGraceMs = parseDuration(flags.drainGrace);
  if (drainGraceMs === null) throw new UsageError(`--drain-grace: '${flags.drainGrace}' is not a duration (e.g. 30s, 5m)`);
  const keepRunsPerJob = Number(flags.keepRuns);
  if (!Number.isInteger(keepRunsPerJob) || keepRunsPerJob < 1) throw new UsageError(`--keep-runs must be a positive whole number, got '${flags.keepRuns}'`);
  const maxLogBytes = parseSize(flags.maxLogSize);
  if (maxLogBytes === null) throw new UsageError(`--max-log-size: '${flags.maxLogSize}' is not a size (e.g. 512MiB, 2GB)`);
  const claimLeadMs = parseDuration(flags.claimLead);
  if (claimLeadMs === null || claimLeadMs > 5000) throw new UsageError(`--claim-lead '${flags.claimLead}': a duration up to 5s (e.g. 100ms)`);

  if (flags.alertWebhook !== undefined && !isHttpUrl(flags.alertWebhook)) throw new UsageError(`--alert-webhook: '${flags.alertWebhook}' is not an http:// or https:// URL`);

  const log = createLogger({ level: flags.logLevel });
  const daemon = await Daemon.start({
    crontab: flags.crontab ? resolve(flags.crontab) : null,
    cluster: flags.etcd ? clusterOptions(flags) : undefined,
    dataDir: resolveDataDir(flags),
    nodeId,
    log,
    drainGraceMs,
    keepRunsPerJob,
    maxLogBytes,
    claimLeadMs,
    alertWebhook: flags.alertWebhook ?? null,
    metricsListen: flags.metrics ? hostPort('--metrics', flags.metrics) : undefined,
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

/** `host:port` (an IPv6 host in brackets: `[::1]:9464`). */
function hostPort(flag: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag} '${value}': expected host:port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464`);
  return { host: m[1] ?? m[2], port };
}

function clusterOptions(flags: DaemonFlags): ClusterOptions {
  const endpoints = flags.etcd!.split(',').map((u) => u.trim()).filter(Boolean);
  for (const url of endpoints) if (!/^https?:\/\/[^/]+$/.test(url)) throw new UsageError(`--etcd: '${url}' is not an endpoint such as http://10.0.0.5:2379`);
  if (!SAFE_SEGMENT.test(flags.cluster)) throw new UsageError(`--cluster '${flags.cluster}': use letters, digits, '.', '_' or '-'`);
  const labels: Record<string, string> = {};
  for (const l of flags.label) {
    const i = l.indexOf('=');
    if (i <= 0) throw new UsageError(`--label '${l}': expected key=value`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  const ttl = parseDuration(flags.leaseTtl);
  if (ttl === null || ttl < 2000 || ttl % 1000 !== 0) throw new UsageError(`--lease-ttl '${flags.leaseTtl}': whole seconds, at least 2s`);
  const handicapMs = parseDuration(flags.claimHandicap);
  if (handicapMs === null) throw new UsageError(`--claim-handicap '${flags.claimHandicap}' is not a duration (e.g. 200ms)`);
  const listen = /^(.+):(\d+)$/.exec(flags.peerListen);
  if (!listen) throw new UsageError(`--peer-listen '${flags.peerListen}': expected host:port, e.g. 0.0.0.0:7946`);
  const password = process.env.DCRON_ETCD_PASSWORD;
  if (flags.etcdUser && password === undefined) throw new UsageError('--etcd-user needs the password in DCRON_ETCD_PASSWORD');
  return {
    etcd: {
      endpoints,
      tls: flags.etcdCa || flags.etcdCert || flags.etcdKey ? { caFile: flags.etcdCa, certFile: flags.etcdCert, keyFile: flags.etcdKey } : undefined,
      auth: flags.etcdUser ? { username: flags.etcdUser, password: password! } : undefined,
    },
    cluster: flags.cluster,
    labels,
    leaseTtlSeconds: ttl / 1000,
    handicapMs,
    peerListen: { host: listen[1], port: Number(listen[2]) },
    peerAdvertise: flags.peerAdvertise ?? null,
    peerSecretFile: flags.peerSecretFile ?? null,
  };
}
