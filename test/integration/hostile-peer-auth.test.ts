/**
 * The peer API under hostile requests, sent as raw bytes so nothing in an
 * HTTP client tidies them up: mutated tokens, tokens for other paths,
 * methods, nodes and times, junk headers. Only the exact token for the exact
 * request is let in; nothing of a run leaks before that, and the server
 * keeps serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import fc from 'fast-check';
import { silentLogger } from '../../src/daemon/log.js';
import { MAX_CLOCK_SKEW_MS, requireSecret, signRequest } from '../../src/daemon/peer/peer-auth.js';
import { PeerServer, type PeerSource } from '../../src/daemon/peer/peer-server.js';
import type { RunRecord } from '../../src/daemon/runlog/types.js';

const SECRET = requireSecret(randomBytes(32));
const LEAK = 'top-secret-output';
const RUN: RunRecord = {
  id: '01J0000000000000000000TEST',
  job: 'backup',
  tickMs: 0,
  trigger: 'manual',
  attempt: 1,
  fence: 1,
  host: 'h1',
  status: 'ok',
  startedMs: 0,
  endedMs: 1,
  exitCode: 0,
  signal: null,
  pid: null,
  outputBytes: LEAK.length,
  truncated: false,
  message: LEAK,
  shard: null,
  shards: null,
};
const source: PeerSource = {
  getRun: (id) => (RUN.id.startsWith(id.toUpperCase()) ? RUN : undefined),
  readOutput: () => [{ runId: RUN.id, seq: 1, stream: 'stdout', tsMs: 0, data: Buffer.from(LEAK) }],
  history: () => [RUN],
  subscribe: () => () => {},
};
const server = new PeerServer({ source, secret: SECRET, log: silentLogger });
let port = 0;

before(async () => {
  port = (await server.listen('127.0.0.1', 0)).port;
});
after(() => server.close());

/** One request as raw bytes on a fresh connection; resolves with the status and body as text. */
function rawRequest(head: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : 0, body: text });
    });
    socket.end(head);
  });
}

function request(target: string, authorization: Buffer | string | null, method = 'GET'): Promise<{ status: number; body: string }> {
  const auth = authorization === null ? Buffer.alloc(0) : Buffer.concat([Buffer.from('Authorization: '), Buffer.from(authorization as string, 'latin1'), Buffer.from('\r\n')]);
  return rawRequest(Buffer.concat([Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`), auth, Buffer.from('\r\n')]));
}

const TARGET = `/v1/runs/${RUN.id}/output`;
const token = (opts: { node?: string; method?: string; path?: string; at?: number; secret?: Buffer } = {}) =>
  signRequest(opts.secret ?? SECRET, opts.node ?? 'h2', opts.method ?? 'GET', opts.path ?? TARGET, opts.at ?? Date.now());

test('the exact token is let in (the server under test works)', async () => {
  const ok = await request(TARGET, token());
  assert.equal(ok.status, 200);
  assert.match(ok.body, new RegExp(Buffer.from(LEAK).toString('base64')));
});

test('tokens for another request, node, secret or time, and malformed ones, are all 401 and leak nothing', async () => {
  const now = Date.now();
  const valid = token({ at: now });
  const hostile: Array<[string, string | null]> = [
    ['none', null],
    ['empty', ''],
    ['another path', token({ path: '/v1/history' })],
    ['the path with a query added', token({ path: `${TARGET}?after=0` })],
    ['another method', token({ method: 'HEAD' })],
    ['another secret', token({ secret: randomBytes(32) })],
    ['expired', token({ at: now - MAX_CLOCK_SKEW_MS - 5000 })],
    ['from the future', token({ at: now + MAX_CLOCK_SKEW_MS + 5000 })],
    ['another node, same signature', valid.replace('Bearer h2.', 'Bearer h3.')],
    ['node id with a slash', valid.replace('Bearer h2.', 'Bearer ../h2.')],
    ['uppercase hex', valid.replace(/[0-9a-f]{64}$/, (h) => h.toUpperCase())],
    ['signature cut short', valid.slice(0, -1)],
    ['signature one longer', valid + '0'],
    ['lowercase scheme', valid.replace('Bearer', 'bearer')],
    ['Basic scheme', `Basic ${Buffer.from('h2:secret').toString('base64')}`],
    ['timestamp of 17 digits', valid.replace(/\.(\d+)\./, '.12345678901234567.')],
    ['negative timestamp', valid.replace(/\.(\d+)\./, '.-1.')],
    ['exponent timestamp', valid.replace(/\.(\d+)\./, '.1e12.')],
    ['two tokens', `${valid}, ${valid}`],
    ['15,000 dots', `Bearer ${'.'.repeat(15_000)}`],
  ];
  for (const [what, header] of hostile) {
    const res = await request(TARGET, header);
    assert.ok(res.status === 401 || res.status === 400 || res.status === 431, `${what}: ${res.status}`);
    assert.ok(!res.body.includes(Buffer.from(LEAK).toString('base64')) && !res.body.includes(LEAK), `${what} leaked the run`);
  }
  assert.equal((await request(TARGET, valid)).status, 200, 'the server still serves');
});

test('randomly mutated tokens never get in unless they are the token itself', { timeout: 60_000 }, async () => {
  const edit = fc.oneof(
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => (b: Buffer) => Buffer.concat([b.subarray(0, at % (b.length + 1)), Buffer.from([byte]), b.subarray(at % (b.length + 1))])),
    fc.nat().map((at) => (b: Buffer) => Buffer.concat([b.subarray(0, at % b.length), b.subarray((at % b.length) + 1)])),
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => (b: Buffer) => {
      const c = Buffer.from(b);
      c[at % c.length] = byte;
      return c;
    }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
      const valid = Buffer.from(token());
      const mutated = edits.reduce((b, e) => e(b), valid);
      // Header values lose blanks at their ends on the way in: such a mutation is the token itself.
      const same = mutated.toString('latin1').replace(/^[ \t]+|[ \t]+$/g, '') === valid.toString('latin1');
      if (mutated.includes(0x0d) || mutated.includes(0x0a)) return; // would end the header: another request shape, not a token
      const res = await request(TARGET, mutated);
      if (same) return assert.equal(res.status, 200);
      assert.ok(res.status === 401 || res.status === 400, `${JSON.stringify(mutated.toString('latin1'))}: ${res.status}`);
      assert.ok(!res.body.includes(LEAK) && !res.body.includes(Buffer.from(LEAK).toString('base64')));
    }),
    { numRuns: 300, seed: 5_0004 },
  );
  assert.equal((await request(TARGET, token())).status, 200, 'the server still serves');
});
