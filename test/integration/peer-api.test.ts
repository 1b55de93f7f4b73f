import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { JobDefinition } from '../../src/daemon/crontab/types.js';
import { EmbeddedCoordinator } from '../../src/daemon/coordination/embedded.js';
import { InvalidRequestError } from '../../src/daemon/errors.js';
import { Executor } from '../../src/daemon/executor/executor.js';
import { silentLogger } from '../../src/daemon/log.js';
import { PeerSecretError, requireSecret, signRequest } from '../../src/daemon/peer/peer-auth.js';
import { PeerAuthError, PeerClient, PeerNotFoundError, PeerRequestError, PeerUnreachableError } from '../../src/daemon/peer/peer-client.js';
import { PeerServer, type PeerLogEvent, type PeerSource } from '../../src/daemon/peer/peer-server.js';
import { runLogSource } from '../../src/daemon/peer/run-log-source.js';
import { openDatabase } from '../../src/daemon/runlog/database.js';
import { RunLog } from '../../src/daemon/runlog/run-log.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'dcron-peer-'));
const db = openDatabase(join(dir, 'runs.db'));
const runLog = new RunLog(db);
const coordinator = new EmbeddedCoordinator(db);
const executor = new Executor({ runLog, coordinator, host: 'h1', log: silentLogger, killGraceMs: 500 });
const source = runLogSource(runLog, executor);
const SECRET = randomBytes(32).toString('hex');
const server = new PeerServer({ source, secret: SECRET, log: silentLogger });
const client = new PeerClient({ nodeId: 'h2', secret: SECRET });
let base = '';

before(async () => {
  const { port } = await server.listen('127.0.0.1', 0);
  base = `http://127.0.0.1:${port}`;
});
after(async () => {
  await server.close();
  await executor.drain(0);
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Jobs come from the real parser, so tests use what users write. */
function job(name: string, command: string): JobDefinition {
  const parsed = parseCrontab(`#dcron name=${name}\n0 0 1 1 * ${command}\n`, { file: join(dir, 'crontab'), defaultTz: 'UTC' });
  assert.deepEqual(parsed.diagnostics, []);
  return parsed.jobs[0];
}

let tick = Date.UTC(2026, 0, 1);
async function start(name: string, command: string): Promise<string> {
  tick += 1000;
  const j = job(name, command);
  const claim = await coordinator.claimTick(j.name, tick);
  const result = executor.submit({ job: j, tickMs: tick, trigger: 'manual', fence: claim!.fence, busyFence: null });
  assert.ok(result.kind === 'started');
  return result.runId;
}

const finished = (runId: string) =>
  waitFor(`run ${runId} to finish`, () => {
    const run = runLog.getRun(runId);
    return run !== undefined && run.status !== 'running' && run;
  });

const storedText = (runId: string) => Buffer.concat(runLog.readOutput(runId).map((c) => c.data)).toString();

/** A gate file the job waits on, so the test decides when it moves on. */
function gate(name: string): { path: string; open(): void } {
  const path = join(dir, `${name}.gate`);
  return { path, open: () => writeFileSync(path, '') };
}
const waitGate = (path: string) => `while [ ! -f ${path} ]; do sleep 0.01; done`;

function follow(c: PeerClient, url: string, runId: string, options: { after?: number; follow?: boolean }) {
  const events: PeerLogEvent[] = [];
  const handle = c.streamOutput(url, runId, options, (e) => events.push(e));
  return { events, ...handle };
}

type OutputEvent = Extract<PeerLogEvent, { type: 'output' }>;
const outputs = (events: PeerLogEvent[]) => events.filter((e): e is OutputEvent => e.type === 'output');
const bytesOf = (events: PeerLogEvent[], stream: string) =>
  Buffer.concat(outputs(events).filter((e) => e.stream === stream).map((e) => Buffer.from(e.data, 'base64')));

/** A hand-made request, to test what the client would never send. */
function raw(path: string, options: { headers?: OutgoingHttpHeaders; method?: string; body?: string; url?: string; ca?: string } = {}): Promise<{ status: number; body: string }> {
  const url = new URL(path, options.url ?? base);
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: options.method ?? 'GET', headers: options.headers, ca: options.ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function signed(path: string, method = 'GET', nowMs = Date.now()): OutgoingHttpHeaders {
  return { authorization: signRequest(requireSecret(SECRET), 'h2', method, path, nowMs) };
}

test('stored output of a finished run is served byte-exact, binary included', async () => {
  const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(64 * 1024), Buffer.from([0xff, 0xfe, 0xc3])]);
  const file = join(dir, 'binary.bin');
  writeFileSync(file, bytes);
  const runId = await start('peer-binary', `cat ${file}; echo to-stderr >&2`);
  const record = await finished(runId);

  const all = follow(client, base, runId, {});
  await all.done;
  assert.deepEqual(all.events[0], { type: 'run', run: record });
  assert.deepEqual(all.events.at(-1), { type: 'end', run: record });
  assert.ok(bytesOf(all.events, 'stdout').equals(bytes), 'stdout byte-exact');
  assert.equal(bytesOf(all.events, 'stderr').toString(), 'to-stderr\n');
  const stored = runLog.readOutput(runId);
  assert.deepEqual(outputs(all.events).map((e) => e.seq), stored.map((c) => c.seq));

  const rest = follow(client, base, runId, { after: 1 });
  await rest.done;
  assert.deepEqual(outputs(rest.events).map((e) => e.seq), stored.slice(1).map((c) => c.seq));

  assert.deepEqual(await client.getRun(base, runId), record);
  assert.deepEqual(await client.getRun(base, runId.slice(0, 22).toLowerCase()), record, 'a unique prefix, any case');
});

test('follow streams a live run as it is produced and ends with the run', async () => {
  const [g1, g2] = [gate('live-1'), gate('live-2')];
  const runId = await start('peer-live', `echo first; ${waitGate(g1.path)}; echo second; ${waitGate(g2.path)}; echo third`);
  await waitFor('the first line to be stored', () => storedText(runId) === 'first\n');

  const s = follow(client, base, runId, { follow: true });
  await waitFor('the stored line', () => bytesOf(s.events, 'stdout').toString() === 'first\n');
  assert.equal(s.events[0].type === 'run' && s.events[0].run.status, 'running');
  g1.open();
  await waitFor('the live line', () => bytesOf(s.events, 'stdout').toString() === 'first\nsecond\n');
  assert.ok(!s.events.some((e) => e.type === 'end'), 'the stream stays open while the run runs');
  g2.open();
  await s.done;

  assert.equal(bytesOf(s.events, 'stdout').toString(), 'first\nsecond\nthird\n');
  const end = s.events.at(-1)!;
  assert.equal(end.type === 'end' && end.run.status, 'ok');
  assert.deepEqual(end.type === 'end' && end.run, runLog.getRun(runId));
});

test('a follower joining a busy run gets every chunk once, stored then live', async () => {
  const g = gate('busy');
  const runId = await start('peer-busy', `i=1; while [ $i -le 400 ]; do echo $i; if [ $i -eq 100 ]; then ${waitGate(g.path)}; fi; i=$((i+1)); done`);
  await waitFor('the first 100 lines', () => storedText(runId).endsWith('\n100\n'));

  const s = follow(client, base, runId, { follow: true });
  g.open();
  await s.done;
  const expected = Array.from({ length: 400 }, (_, i) => `${i + 1}\n`).join('');
  assert.equal(bytesOf(s.events, 'stdout').toString(), expected);
  assert.deepEqual(outputs(s.events).map((e) => e.seq), outputs(s.events).map((_, i) => i + 1), 'seqs 1..n, no gap, no repeat');
});

test('cancelling a follow resolves it and drops the subscription on the server', async () => {
  const g = gate('cancel');
  const runId = await start('peer-cancel', `echo hi; ${waitGate(g.path)}`);
  await waitFor('output', () => storedText(runId) === 'hi\n');
  const s = follow(client, base, runId, { follow: true });
  await waitFor('the follower to subscribe', () => executor.listenerCount('output') > 0);
  s.cancel();
  await s.done;
  await waitFor('the subscription to go', () => executor.listenerCount('output') === 0);
  g.open();
  await finished(runId);
});

test('requests without valid auth get 401, whatever they ask for', async () => {
  const runId = await start('peer-auth', 'echo secret-output');
  await finished(runId);
  const target = `/v1/runs/${runId}/output`;

  for (const path of [target, '/v1/history', '/no/such/route']) {
    const res = await raw(path);
    assert.equal(res.status, 401, path);
    assert.match(res.body, /missing Authorization header/);
    assert.doesNotMatch(res.body, /secret-output/);
  }
  assert.equal((await raw(target, { headers: signed('/v1/history') })).status, 401, 'a token for another path');
  assert.equal((await raw(target, { headers: signed(target, 'POST') })).status, 401, 'a token for another method');

  const wrong = new PeerClient({ nodeId: 'h2', secret: randomBytes(32).toString('hex') });
  await assert.rejects(wrong.getRun(base, runId), (err: unknown) => err instanceof PeerAuthError && /signature/.test(err.reason));

  const stale = new PeerClient({ nodeId: 'h2', secret: SECRET, now: () => Date.now() - 120_000 });
  await assert.rejects(stale.getRun(base, runId), (err: unknown) => err instanceof PeerAuthError && /clocks differ by more than 60 s/.test(err.message));
  const s = follow(stale, base, runId, {});
  await assert.rejects(s.done, PeerAuthError);
  assert.deepEqual(s.events, [], 'nothing of the run leaks before auth');
});

test('unknown runs are 404, ambiguous prefixes 409, malformed ids and parameters 400, other methods and bodies refused', async () => {
  await assert.rejects(client.getRun(base, '00000000000000000000000000'), PeerNotFoundError);
  await assert.rejects(follow(client, base, 'ZZZZZZZZ', { follow: true }).done, PeerNotFoundError);
  const [newest] = runLog.history({ limit: 2 });
  await assert.rejects(
    client.getRun(base, newest.id.slice(0, 4)),
    (err: unknown) => err instanceof PeerRequestError && err.status === 409 && /matches several runs/.test(err.message),
    'earlier tests left several runs sharing the time prefix',
  );
  for (const id of ['abc', 'bad-id!', 'x'.repeat(27), '../history']) {
    await assert.rejects(client.getRun(base, id), (err: unknown) => err instanceof PeerRequestError && err.status === 400, id);
  }
  const statusOf = async (path: string, method = 'GET', body?: string) =>
    (await raw(path, { method, body, headers: { ...signed(path, method), ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) } })).status;
  assert.equal(await statusOf('/v1/nope'), 404);
  assert.equal(await statusOf('/v1/runs/ZZZZZZZZ/output?after=-1'), 400);
  assert.equal(await statusOf('/v1/runs/ZZZZZZZZ/output?follow=yes'), 400);
  assert.equal(await statusOf('/v1/runs/ZZZZZZZZ/output?after=1&after=2'), 400);
  assert.equal(await statusOf('/v1/history?jobs=x'), 400);
  assert.equal(await statusOf('/v1/history?limit=0'), 400);
  assert.equal(await statusOf('/v1/history', 'DELETE'), 405);
  assert.equal(await statusOf('/v1/history', 'GET', 'a body'), 400);
});

test('history filters by job, newest first, and honours the limit', async () => {
  const first = await start('peer-hist', 'true');
  await finished(first);
  const second = await start('peer-hist', 'false');
  await finished(second);
  const runs = await client.history(base, { job: 'peer-hist' });
  assert.deepEqual(runs.map((r) => [r.id, r.status]), [[second, 'failed'], [first, 'ok']]);
  assert.deepEqual(await client.history(base, { job: 'peer-hist', limit: 1 }), [runLog.getRun(second)]);
  assert.deepEqual(await client.history(base, { job: 'no-such-job' }), []);
});

test('a server without a usable secret refuses to start', () => {
  assert.throws(() => new PeerServer({ source, secret: '', log: silentLogger }), PeerSecretError);
  assert.throws(() => new PeerServer({ source, secret: undefined as unknown as string, log: silentLogger }), PeerSecretError);
  assert.throws(() => new PeerServer({ source, secret: 'short', log: silentLogger }), PeerSecretError);
});

test('unreachable peers: refused connections and silent ones, with the URL in the error', async () => {
  const closed = new PeerServer({ source, secret: SECRET, log: silentLogger });
  const { port } = await closed.listen('127.0.0.1', 0);
  await closed.close();
  const refusedUrl = `http://127.0.0.1:${port}`;
  await assert.rejects(client.getRun(refusedUrl, 'ZZZZZZZZ'), (err: unknown) => err instanceof PeerUnreachableError && err.message.includes(refusedUrl) && /refused/.test(err.message));

  const sockets: Socket[] = [];
  const silent = createTcpServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const impatient = new PeerClient({ nodeId: 'h2', secret: SECRET, timeoutMs: 200 });
  await assert.rejects(impatient.history(silentUrl), (err: unknown) => err instanceof PeerUnreachableError && /no answer within 200 ms/.test(err.message));
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));

  await assert.rejects(client.history('ftp://127.0.0.1:1'), InvalidRequestError);
});

test('closing the server ends open follows with a connection error', async () => {
  const local = new PeerServer({ source, secret: SECRET, log: silentLogger });
  const { port } = await local.listen('127.0.0.1', 0);
  const g = gate('close');
  const runId = await start('peer-close', `echo hi; ${waitGate(g.path)}`);
  await waitFor('output', () => storedText(runId) === 'hi\n');
  const s = follow(client, `http://127.0.0.1:${port}`, runId, { follow: true });
  await waitFor('the stored line', () => s.events.some((e) => e.type === 'output'));
  await local.close();
  await assert.rejects(s.done, PeerUnreachableError);
  g.open();
  await finished(runId);
});

test('TLS, mutual or not, still requires the secret', async (t: TestContext) => {
  // The certificate is made at test time; without an openssl binary there is no portable way to make one from Node built-ins.
  if (spawnSync('openssl', ['version']).error) return t.skip('openssl is not installed');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ]);
  assert.equal(made.status, 0, made.stderr?.toString());
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  const runId = await start('peer-tls', 'echo over-tls');
  const record = await finished(runId);

  const tlsServer = new PeerServer({ source, secret: SECRET, log: silentLogger, tls: { cert, key } });
  const tlsUrl = `https://127.0.0.1:${(await tlsServer.listen('127.0.0.1', 0)).port}`;
  t.after(() => tlsServer.close());
  const tlsClient = new PeerClient({ nodeId: 'h2', secret: SECRET, tls: { ca: cert } });
  assert.deepEqual(await tlsClient.getRun(tlsUrl, runId), record);
  const s = follow(tlsClient, tlsUrl, runId, {});
  await s.done;
  assert.equal(bytesOf(s.events, 'stdout').toString(), 'over-tls\n');

  assert.equal((await raw('/v1/history', { url: tlsUrl, ca: cert })).status, 401, 'TLS alone is not enough');
  const wrongSecret = new PeerClient({ nodeId: 'h2', secret: randomBytes(32), tls: { ca: cert } });
  await assert.rejects(wrongSecret.getRun(tlsUrl, runId), PeerAuthError);
  const untrusting = new PeerClient({ nodeId: 'h2', secret: SECRET });
  await assert.rejects(untrusting.getRun(tlsUrl, runId), PeerUnreachableError, 'an unknown CA');
  await assert.rejects(tlsClient.getRun(tlsUrl.replace('https:', 'http:'), runId), InvalidRequestError, 'no downgrade to plain http');

  const mutual = new PeerServer({ source, secret: SECRET, log: silentLogger, tls: { cert, key, clientCa: cert } });
  const mutualUrl = `https://127.0.0.1:${(await mutual.listen('127.0.0.1', 0)).port}`;
  t.after(() => mutual.close());
  await assert.rejects(tlsClient.getRun(mutualUrl, runId), PeerUnreachableError, 'no client certificate');
  const withCert = new PeerClient({ nodeId: 'h2', secret: SECRET, tls: { ca: cert, cert, key } });
  assert.deepEqual(await withCert.getRun(mutualUrl, runId), record);
  const certButWrongSecret = new PeerClient({ nodeId: 'h2', secret: randomBytes(32), tls: { ca: cert, cert, key } });
  await assert.rejects(certButWrongSecret.getRun(mutualUrl, runId), PeerAuthError);
});

test('history parameters reach the source, which need not be a run log', async () => {
  const fake: PeerSource = {
    getRun: () => undefined,
    readOutput: () => [],
    history: (q) => {
      assert.deepEqual(q, { job: 'x', limit: 3 });
      return [];
    },
    subscribe: () => () => {},
  };
  const local = new PeerServer({ source: fake, secret: SECRET, log: silentLogger });
  const { port } = await local.listen('127.0.0.1', 0);
  try {
    assert.deepEqual(await client.history(`http://127.0.0.1:${port}`, { job: 'x', limit: 3 }), []);
  } finally {
    await local.close();
  }
});
