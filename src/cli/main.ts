import { Command, CommanderError, Option } from 'commander';
import { DcronError, DaemonUnreachableError, RemoteError } from '../daemon/errors.js';
import { VERSION } from '../daemon/version.js';
import { dataDirOption } from './context.js';
import { UsageError } from './errors.js';
import { EXIT_UNREACHABLE, EXIT_USAGE, EXIT_USER_ERROR } from './exit-codes.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const examples = (lines: string[]) => '\nExamples:\n' + lines.map((l) => `  $ ${l}`).join('\n') + '\n';

/**
 * Builds the command tree. Actions import their module on demand, so
 * `dcron --help` does not load SQLite, chokidar or Ink.
 */
export function buildProgram(): Command {
  const program = new Command('dcron')
    .description('A distributed crontab: your crontab file, every tick run exactly once.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the subcommands exist so they inherit it: usage errors must exit 2, not commander's 1.
    .exitOverride()
    .addHelpText(
      'after',
      examples([
        'dcron daemon --crontab ./crontab          # run the scheduler on this host',
        'dcron ls                                  # jobs, next tick, last result',
        'dcron logs backup -f                      # follow a job\'s output live',
        'dcron next "0 9 * * mon-fri" -n 3         # when would this fire?',
        'dcron validate ./crontab                  # check a file before installing it',
      ]) + '\nExit codes: 0 ok, 1 error, 2 usage, 3 daemon unreachable.\n',
    );

  program
    .command('daemon')
    .description('run the scheduler: read the crontab, run each tick, serve the CLI')
    .addOption(new Option('--config <file>', 'config file setting any of these flags as TOML key = "value" (default: /etc/dcron/config if it exists)').env('DCRON_CONFIG'))
    .addOption(new Option('--crontab <file>', 'crontab file to run').env('DCRON_CRONTAB'))
    .addOption(dataDirOption())
    .addOption(new Option('--node-id <id>', 'name of this host in run records').env('DCRON_NODE_ID').default(undefined, 'the hostname'))
    .addOption(new Option('--log-level <level>', 'least severe log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--metrics <host:port>', 'serve Prometheus metrics at http://host:port/metrics; off by default').env('DCRON_METRICS'))
    .addOption(new Option('--etcd <urls>', 'cluster mode: etcd endpoints, comma-separated').env('DCRON_ETCD'))
    .addOption(new Option('--cluster <name>', 'cluster name: namespaces the keys so clusters can share one etcd').env('DCRON_CLUSTER').default('default'))
    .option('--label <key=value>', 'label of this node for hosts= selectors (repeatable)', collect, [])
    .option('--etcd-ca <file>', 'CA certificate to verify etcd (TLS)')
    .option('--etcd-cert <file>', 'client certificate for etcd (TLS)')
    .option('--etcd-key <file>', 'client key for etcd (TLS)')
    .addOption(new Option('--etcd-user <name>', 'etcd username; the password comes from DCRON_ETCD_PASSWORD').env('DCRON_ETCD_USER'))
    .option('--peer-listen <host:port>', 'address of the peer API that serves this node\'s run output to other nodes', '127.0.0.1:0')
    .option('--peer-advertise <url>', 'URL other nodes use to reach the peer API (default: from --peer-listen)')
    .addOption(new Option('--peer-secret-file <file>', 'shared secret of the peer API (default: one generated once and kept in etcd)').env('DCRON_PEER_SECRET_FILE'))
    .option('--lease-ttl <duration>', 'cluster: lease TTL; a dead node\'s running jobs are given up after this long', '10s')
    .option('--claim-handicap <duration>', 'cluster: how long a tick\'s second-choice node waits before claiming it', '200ms')
    .option('--claim-lead <duration>', 'how long before a tick it is claimed and recorded, so the job itself starts on time', '100ms')
    .option('--drain-grace <duration>', 'on SIGTERM, how long running jobs may finish before on-lost applies', '30s')
    .option('--keep-runs <n>', 'run records kept per job', '1000')
    .option('--group <name=k>', 'concurrency group: at most K runs of the jobs with group=NAME at once, cluster-wide (repeatable; give every daemon the same)', collect, [])
    .option('--slots <n>', 'most runs at once on this host (a job with slots=K takes K); a full host passes ticks to the next host, and a tick no host has room for within the late grace is recorded skipped', 'unlimited')
    .option('--max-log-size <size>', 'total output kept in the run log', '1GiB')
    .addOption(new Option('--alert-webhook <url>', 'POST a JSON report here when a job\'s last attempt fails').env('DCRON_ALERT_WEBHOOK'))
    .addHelpText(
      'after',
      examples([
        'dcron daemon --crontab crontab.example',
        'DCRON_DATA_DIR=/srv/dcron dcron daemon --crontab /etc/dcron/crontab --node-id web-1',
        'dcron daemon --etcd http://10.0.0.5:2379 --crontab /etc/dcron/crontab --node-id web-1 --label role=web',
        'dcron daemon --etcd http://10.0.0.5:2379 --node-id web-2        # no file: follows the cluster\'s job list',
      ]) + '\nSIGHUP reloads the crontab (it is also reloaded when the file changes); SIGTERM drains.\n',
    )
    .action(async (opts, cmd: Command) => (await import('./commands/daemon.js')).daemonCommand(opts, cmd));

  program
    .command('ls')
    .description('list jobs: schedule in words (or the jobs they run after), shards, next tick, last result, where running')
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .addHelpText('after', examples(['dcron ls', 'dcron ls --json | jq \'.[] | select(.lastRun.status == "failed") | .name\'', 'dcron ls --json | jq \'.[] | {name, shards, after, afterFailure}\'']))
    .action(async (opts) => (await import('./commands/ls.js')).lsCommand(opts));

  program
    .command('run')
    .description('run a job once now, outside its schedule')
    .argument('<job>', 'job name (see dcron ls)')
    .addOption(dataDirOption())
    .option('-f, --follow', 'stream the run\'s output and exit with its exit code')
    .option('--tick <iso>', 'run this past tick of the job instead (a backfill): DCRON_TRIGGER=backfill, DCRON_TICK_MS = the tick')
    .addHelpText(
      'after',
      examples(['dcron run backup', 'dcron run backup --follow', 'dcron run backup --tick 2026-12-06T02:00:00Z -f   # the 02:00 tick that failed yesterday']) +
        '\nWith --tick the instant must be one of the job\'s schedule ticks (dcron next shows them) and not in\n' +
        'the future; a tick already backfilled, or that already ran on schedule, is refused. See dcron backfill.\n',
    )
    .action(async (job, opts) => (await import('./commands/run.js')).runCommand(job, opts));

  program
    .command('backfill')
    .description('run each past tick of a job\'s schedule in [--from, --to] once, now (trigger backfill)')
    .argument('<job>', 'job name (see dcron ls)')
    .addOption(dataDirOption())
    .requiredOption('--from <iso>', 'first instant of the range (ISO 8601; local time without an offset)')
    .requiredOption('--to <iso>', 'last instant of the range, included (instants after now are left to the scheduler)')
    .option('--parallel <n>', 'ticks run at once (more than 1 needs overlap=allow)', '1')
    .addHelpText(
      'after',
      examples([
        'dcron backfill report --from 2026-12-01 --to 2026-12-07              # every tick of the week, oldest first',
        'dcron backfill report --from 2026-12-01T00:00Z --to 2026-12-02T00:00Z --parallel 4',
        'dcron backfill report --from 2026-12-01 --to 2026-12-07              # again: every tick is refused, none runs twice',
      ]) +
        '\nEach run sees DCRON_TRIGGER=backfill and DCRON_TICK/DCRON_TICK_MS of its tick. A tick runs once\n' +
        'cluster-wide, however often or from however many hosts it is backfilled; ticks that already ran\n' +
        'on schedule are refused where this daemon can tell (its run log; in a cluster also the newest\n' +
        'run summaries in etcd). A pause does not stop a backfill: it is itself an operator\'s explicit act.\n' +
        'The runs are made on the host whose daemon was asked (it must match the job\'s hosts=); jobs with\n' +
        'after=, mode=all, @reboot or @delay cannot be backfilled. At most 10,000 ticks per backfill.\n' +
        'Prints a summary (ran ok / failed / refused); exit 1 if any tick failed.\n',
    )
    .action(async (job, opts) => (await import('./commands/backfill.js')).backfillCommand(job, opts));

  program
    .command('kill')
    .description('kill a job\'s running run and every process it started')
    .argument('<job>', 'job name')
    .addOption(dataDirOption())
    .option('--run <id>', 'kill only this run (id or unique prefix)')
    .addHelpText('after', examples(['dcron kill backup', 'dcron kill backup --run 01JD3K']))
    .action(async (job, opts) => (await import('./commands/kill.js')).killCommand(job, opts));

  program
    .command('pause')
    .description('stop a job\'s scheduled ticks, on every host, until resumed: they are recorded paused, not run')
    .argument('<job>', 'job name')
    .addOption(dataDirOption())
    .option('--until <iso>', 'resume by itself at this instant (ISO 8601; local time without an offset)')
    .addHelpText(
      'after',
      examples(['dcron pause backup', 'dcron pause backup --until 2026-12-24T06:00:00Z']) +
        '\nThe pause is kept apart from the crontab (in etcd in a cluster, in the data dir on one host):\n' +
        'a reload or an edit of the job never lifts it. A run in flight goes on (dcron kill stops it);\n' +
        'dcron run still runs the job by hand. dcron ls and dcron status show what is paused.\n',
    )
    .action(async (job, opts) => (await import('./commands/pause.js')).pauseCommand(job, opts));

  program
    .command('resume')
    .description('lift a job\'s pause: its next tick runs (ticks passed while paused stay recorded paused)')
    .argument('<job>', 'job name')
    .addOption(dataDirOption())
    .addHelpText('after', examples(['dcron resume backup']))
    .action(async (job, opts) => (await import('./commands/pause.js')).resumeCommand(job, opts));

  program
    .command('logs')
    .description('show the output of a job\'s latest run, or of one run')
    .argument('<job>', 'job name')
    .addOption(dataDirOption())
    .option('-f, --follow', 'keep streaming: the live run, then each new run of the job')
    .option('--run <id>', 'show this run (id or unique prefix from dcron history)')
    .option('--shard <i>', 'sharded job: the newest run of shard I (from 0, as DCRON_SHARD); with -f, each new run of it')
    .addHelpText('after', examples(['dcron logs backup', 'dcron logs backup -f', 'dcron logs backup --run 01JD3K7Q', 'dcron logs reindex --shard 2          # shard 2 of a shards=N job']))
    .action(async (job, opts) => (await import('./commands/logs.js')).logsCommand(job, opts));

  program
    .command('history')
    .description('list past runs, newest first')
    .argument('[job]', 'only runs of this job')
    .addOption(dataDirOption())
    .option('-n, --limit <n>', 'how many rows (runs, or ticks of a sharded job)', '20')
    .option('--shards', 'one row per shard run, with its SHARD (index/count) and HOST, instead of one per sharded tick')
    .option('--json', 'print the run records as JSON (each shard run its own, with shard and shards)')
    .addHelpText(
      'after',
      examples([
        'dcron history',
        'dcron history backup -n 50',
        'dcron history reindex                # a shards=N job: one row per tick, e.g. "3 ok, 1 failed of 4"',
        'dcron history reindex --shards       # each shard\'s run and host',
        'dcron history --json',
      ]),
    )
    .action(async (job, opts) => (await import('./commands/history.js')).historyCommand(job, opts));

  program
    .command('validate')
    .description('check a crontab file: errors as file:line:col, exit 1 if any')
    .argument('<file>', 'crontab file')
    .addOption(dataDirOption())
    .option('--diff', 'also show what the file would change in the cluster\'s job list (asks the local daemon)')
    .addHelpText('after', examples(['dcron validate ./crontab', 'dcron validate crontab.example && cp crontab.example /etc/dcron/crontab', 'dcron validate /etc/dcron/crontab.new --diff']))
    .action(async (file, opts) => (await import('./commands/validate.js')).validateCommand(file, opts));

  program
    .command('next')
    .description('print the next ticks of a schedule expression')
    .argument('<expr>', 'cron expression (5 or 6 fields), @daily, @every 90s, ...')
    .addOption(dataDirOption())
    .option('-n <n>', 'how many ticks', '5')
    .option('--from <iso>', 'start after this instant (ISO 8601)')
    .option('--tz <zone>', 'IANA time zone of the expression', undefined)
    .option('--json', 'print {"next": [...]}')
    .addHelpText(
      'after',
      examples([
        'dcron next "*/15 9-17 * * mon-fri"',
        'dcron next "30 2 * * *" --tz Europe/Berlin --from 2026-03-28T00:00:00Z -n 3',
        'dcron next "@every 90s" --json',
        'dcron next "0 0 L * *"            # last day of each month',
      ]),
    )
    .action(async (expr, opts) => (await import('./commands/next.js')).nextCommand(expr, opts));

  program
    .command('nodes')
    .description('cluster nodes: health, lease, clock skew, running runs, slots, free memory, load, free disk')
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .addHelpText('after', examples(['dcron nodes', 'dcron nodes --json']))
    .action(async (opts) => (await import('./commands/nodes.js')).nodesCommand(opts));

  program
    .command('tui')
    .description('live terminal monitor: jobs, live runs, history, logs, nodes; run and kill from the keyboard')
    .addOption(dataDirOption())
    .addHelpText('after', examples(['dcron tui', 'dcron tui --data-dir /srv/dcron', 'NO_COLOR=1 dcron tui']) + '\nPress ? inside for the keys.\n')
    .action(async (opts) => (await import('./commands/tui.js')).tuiCommand(opts));

  program
    .command('status')
    .description('daemon health: node, jobs, running runs, crontab errors')
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .addHelpText('after', examples(['dcron status', 'dcron status --data-dir /srv/dcron']))
    .action(async (opts) => (await import('./commands/status.js')).statusCommand(opts));

  program
    .command('completion')
    .description('print a shell completion script for bash or zsh')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', examples(['eval "$(dcron completion bash)"      # in ~/.bashrc', 'eval "$(dcron completion zsh)"       # in ~/.zshrc']))
    .action(async (shell) => (await import('./commands/completion.js')).completionCommand(shell, program));

  program
    .command('complete-jobs', { hidden: true })
    .description('print job names, one per line, for shell completion (quiet when no daemon answers)')
    .addOption(dataDirOption())
    .action(async (opts) => (await import('./commands/completion.js')).completeJobsCommand(opts));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `dcron ls | head`: the reader went away, so there is nobody left to print for. Exit quietly, as cat does.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
    if (!(err instanceof CommanderError)) process.stderr.write(`dcron: ${messageOf(err)}\n`);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  if (err instanceof UsageError) return EXIT_USAGE;
  if (err instanceof DaemonUnreachableError) return EXIT_UNREACHABLE;
  if (err instanceof DcronError) return EXIT_USER_ERROR;
  return EXIT_USER_ERROR;
}

function messageOf(err: unknown): string {
  if (err instanceof RemoteError || err instanceof DcronError) return err.message;
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
