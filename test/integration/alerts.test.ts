import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../../src/daemon/runlog/types.js';
import { SENDMAIL_PATHS } from '../../src/daemon/alerts/mail.js';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A local webhook receiver; `failFirst` makes a path answer 500 that many times before 200. */
class Receiver {
  readonly requests: Received[] = [];
  private readonly server: Server;
  private readonly failures = new Map<string, number>();

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        const path = req.url ?? '/';
        const left = this.failures.get(path) ?? 0;
        const status = left > 0 ? 500 : 200;
        if (left > 0) this.failures.set(path, left - 1);
        this.requests.push({ path, headers: req.headers, body, answered: status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'boom');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  failFirst(path: string, times: number): void {
    this.failures.set(path, times);
  }

  at(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function workspace(): Workspace {
  const ws = new Workspace();
  cleanups.push(() => ws.cleanup());
  return ws;
}

async function daemonIn(ws: Workspace, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> {
  const d = await DaemonProcess.start(ws, args, env);
  cleanups.push(() => d.stop());
  return d;
}

async function receiver(): Promise<{ rx: Receiver; url: string }> {
  const rx = new Receiver();
  const url = await rx.listen();
  cleanups.push(() => rx.close());
  return { rx, url };
}

/** Runs a job now and waits for it to end (`dcron run -f`). */
async function runToEnd(ws: Workspace, job: string): Promise<void> {
  const r = await cli(['run', job, '-f'], { dataDir: ws.dataDir });
  assert.ok(r.code !== 2 && r.code !== 3, `dcron run ${job}: ${r.stderr}`);
}

const logLines = (d: DaemonProcess) =>
  d.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('a failed run POSTs its report to --alert-webhook and to the job\'s on-failure-webhook', async () => {
  const ws = workspace();
  const { rx, url } = await receiver();
  ws.writeCrontab(
    [
      '#dcron name=boom',
      // 6000 x's, then a last line: the tail holds only the end.
      `0 0 1 1 * head -c 6000 /dev/zero | tr '\\0' x; echo; echo "disk full on /srv" >&2; exit 5`,
      `#dcron name=routed on-failure-webhook=${url}/team-a`,
      '0 0 1 1 * echo routed failing; exit 1',
      '#dcron name=fine',
      '0 0 1 1 * echo all good',
      '',
    ].join('\n'),
  );
  const daemon = await daemonIn(ws, ['--alert-webhook', `${url}/global`]);

  await runToEnd(ws, 'fine');
  await runToEnd(ws, 'boom');
  const [hit] = await waitFor('the global webhook', () => rx.at('/global').length === 1 && rx.at('/global'));
  assert.equal(hit.headers['content-type'], 'application/json');
  assert.match(hit.headers['user-agent'] ?? '', /^dcron\/\S+$/);
  const p = JSON.parse(hit.body) as Record<string, unknown>;
  const [run] = await daemon.call<RunRecord[]>('history', { job: 'boom' });
  assert.deepEqual(
    { job: p.job, runId: p.runId, host: p.host, status: p.status, exitCode: p.exitCode, signal: p.signal, attempt: p.attempt, trigger: p.trigger, message: p.message },
    { job: 'boom', runId: run.id, host: 'test-node', status: 'failed', exitCode: 5, signal: null, attempt: 1, trigger: 'manual', message: null },
  );
  assert.equal(p.tickMs, run.tickMs);
  assert.equal(new Date(p.tick as string).getTime(), run.tickMs);
  assert.match(p.tick as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  assert.equal(p.startedMs, run.startedMs);
  assert.equal(p.endedMs, run.endedMs);
  const tail = p.outputTail as string;
  assert.equal(Buffer.byteLength(tail), 4096, 'the last 4 KiB');
  assert.ok(tail.endsWith('disk full on /srv\n'), tail.slice(-100));
  assert.match(tail, /^x+\n/);

  await runToEnd(ws, 'routed');
  const [routed] = await waitFor('the job\'s own webhook', () => rx.at('/team-a').length === 1 && rx.at('/team-a'));
  assert.equal(JSON.parse(routed.body).job, 'routed');
  assert.equal(JSON.parse(routed.body).outputTail, 'routed failing\n');
  await waitFor('the global webhook for the routed job too', () => rx.at('/global').length === 2);
  assert.ok(
    rx.requests.every((r) => JSON.parse(r.body).job !== 'fine'),
    'a run that succeeded calls no webhook',
  );
  // The receiver sees a request before the daemon logs its answer.
  await waitFor('three deliveries in the daemon log', () => logLines(daemon).filter((l) => l.msg === 'alert webhook delivered').length === 3);
});

test('a webhook answering 500 is retried with backoff until it takes the report', async () => {
  const ws = workspace();
  const { rx, url } = await receiver();
  rx.failFirst('/flaky', 2);
  ws.writeCrontab([`#dcron name=flaky-target on-failure-webhook=${url}/flaky timeout=1s`, '0 0 1 1 * sleep 5', ''].join('\n'));
  const daemon = await daemonIn(ws);
  await runToEnd(ws, 'flaky-target');
  await waitFor('the delivery to be logged', () => logLines(daemon).some((l) => l.msg === 'alert webhook delivered'), 15_000);
  const hits = rx.at('/flaky');
  assert.deepEqual(hits.map((h) => h.answered), [500, 500, 200]);
  assert.ok(hits.every((h) => h.body === hits[0].body), 'the same report each time');
  const body = JSON.parse(hits[0].body);
  assert.equal(body.status, 'timeout');
  assert.equal(body.exitCode, null);
  assert.equal(body.signal, 'SIGTERM');
  const delivered = logLines(daemon).filter((l) => l.msg === 'alert webhook delivered');
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0].attempt, 3);
  assert.ok(!logLines(daemon).some((l) => l.msg === 'alert webhook failed'), daemon.stderr);
});

test('MAILTO mails a run\'s output through sendmail -t, as cron does', async () => {
  const ws = workspace();
  const bin = ws.path('bin');
  const spool = ws.path('spool');
  mkdirSync(bin);
  mkdirSync(spool);
  writeFileSync(join(bin, 'sendmail'), `#!/bin/sh\necho "$@" > "${spool}/mail.$$.args"\ncat > "${spool}/mail.$$.tmp"\nmv "${spool}/mail.$$.tmp" "${spool}/mail.$$"\n`);
  chmodSync(join(bin, 'sendmail'), 0o755);
  ws.writeCrontab(
    [
      'MAILTO=ops@example.com',
      '#dcron name=quiet',
      '0 0 1 1 * true',
      '#dcron name=chatty',
      '0 0 1 1 * echo "hello from chatty"; echo "and its stderr" >&2; exit 4',
      'MAILTO=""',
      '#dcron name=muted',
      '0 0 1 1 * echo "nobody reads this"',
      '',
    ].join('\n'),
  );
  const daemon = await daemonIn(ws, [], { PATH: `${bin}:${process.env.PATH}` });
  await runToEnd(ws, 'quiet');
  await runToEnd(ws, 'muted');
  await runToEnd(ws, 'chatty');
  const mails = () => readdirSync(spool).filter((f) => /^mail\.\d+$/.test(f));
  const [file] = await waitFor('a mail', () => mails().length > 0 && mails());
  await waitFor('sendmail to be logged', () => logLines(daemon).some((l) => l.msg === 'run output mailed'));
  assert.deepEqual(mails(), [file], 'only the run with output and a non-empty MAILTO is mailed');
  assert.equal(readFileSync(join(spool, `${file}.args`), 'utf8').trim(), '-t -oi');

  const text = readFileSync(join(spool, file), 'utf8');
  const [head, ...rest] = text.split('\n\n');
  const headers = Object.fromEntries(head.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
  assert.equal(headers.To, 'ops@example.com');
  assert.match(headers.Subject, /^Cron <[^@\s]+@[^>\s]+> echo "hello from chatty"; echo "and its stderr" >&2; exit 4$/);
  assert.match(headers.From, /^\S+ \(dcron\) <\S+@\S+>$/);
  assert.equal(headers['X-Dcron-Job'], 'chatty');
  assert.equal(headers['X-Dcron-Status'], 'failed');
  const [run] = await daemon.call<RunRecord[]>('history', { job: 'chatty' });
  assert.equal(headers['X-Dcron-Run-Id'], run.id);
  const body = rest.join('\n\n');
  assert.match(body, /hello from chatty\n/);
  assert.match(body, /and its stderr\n/);
});

test('MAILTO without any sendmail: one warning per daemon, runs go on', { skip: SENDMAIL_PATHS.some((p) => existsSync(p)) && 'this host has a sendmail at a fixed path' }, async () => {
  const ws = workspace();
  const empty = ws.path('empty-bin');
  mkdirSync(empty);
  ws.writeCrontab(['MAILTO=ops@example.com', '#dcron name=talker', '0 0 1 1 * echo talking', '#dcron name=other', '0 0 1 1 * echo other', ''].join('\n'));
  // Only builtins are used, so a PATH without sendmail (or anything) is enough.
  const daemon = await daemonIn(ws, [], { PATH: empty });
  for (let i = 0; i < 3; i++) await runToEnd(ws, 'talker');
  await runToEnd(ws, 'other');
  const finished = () => logLines(daemon).filter((l) => l.msg === 'run finished');
  await waitFor('four finished runs in the log', () => finished().length === 4);
  const warnings = logLines(daemon).filter((l) => /no sendmail/.test(String(l.msg)));
  assert.equal(warnings.length, 1, daemon.stderr);
  assert.ok(warnings[0].level === 'warn' || warnings[0].level === 40, `level ${String(warnings[0].level)}`);
  assert.match(String(warnings[0].msg), /MAILTO is set but no sendmail is installed/);
  const history = await daemon.call<RunRecord[]>('history', { job: 'talker' });
  assert.deepEqual(history.map((r) => r.status), ['ok', 'ok', 'ok']);
});
