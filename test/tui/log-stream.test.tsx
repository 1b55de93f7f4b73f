import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Text } from 'ink';
import { cleanup, render } from 'ink-testing-library';
import { LineDecoder, encodeLine } from '../../src/daemon/control/protocol.js';
import { useLogStream } from '../../src/tui/hooks/useLogStream.js';
import { waitFor } from '../helpers/wait.js';
import { run } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'dcron-tui-'));
const socketPath = join(dir, 'dcron.sock');
after(() => {
  cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in daemon whose `logs` stream is driven by the test. */
function fakeDaemon(onLogs: (send: (event: unknown) => void, end: () => void) => void) {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const decoder = new LineDecoder();
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      for (const msg of decoder.push(chunk) as Array<{ id: number; method: string }>) {
        if (msg.method !== 'logs') continue;
        onLogs(
          (event) => socket.write(encodeLine({ id: msg.id, event })),
          () => socket.write(encodeLine({ id: msg.id, end: true })),
        );
      }
    });
  });
  return new Promise<{ close(): Promise<void> }>((resolve) =>
    server.listen(socketPath, () =>
      resolve({
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    ),
  );
}

test('a run printing thousands of lines is rendered a few times, keeping only the last lines', async () => {
  const record = run('01FLOOD', 'flood');
  const daemon = await fakeDaemon((send, end) => {
    send({ type: 'run', run: record });
    // 3,000 lines in 3,000 chunks, one of them split mid-character.
    for (let i = 1; i <= 3000; i++) send({ type: 'output', runId: record.id, seq: i, stream: 'stdout', tsMs: 0, data: Buffer.from(`line ${i}\n`).toString('base64') });
    const euro = Buffer.from('€ done\n');
    send({ type: 'output', runId: record.id, seq: 3001, stream: 'stdout', tsMs: 0, data: euro.subarray(0, 1).toString('base64') });
    send({ type: 'output', runId: record.id, seq: 3002, stream: 'stdout', tsMs: 0, data: euro.subarray(1).toString('base64') });
    send({ type: 'end', run: { ...record, status: 'ok', endedMs: record.startedMs + 1000, exitCode: 0 } });
    end();
  });
  let renders = 0;
  function Probe() {
    const s = useLogStream(socketPath, record.id, { limit: 1000, flushMs: 50 });
    renders++;
    return <Text>{`${s.run?.status ?? '-'} first=${s.first} count=${s.lines.length} last=${s.lines.at(-1) ?? ''} top=${s.lines[0] ?? ''}`}</Text>;
  }
  try {
    const { lastFrame } = render(<Probe />);
    await waitFor('the whole burst to arrive', () => lastFrame()?.includes('last=€ done'), 5000);
    assert.equal(lastFrame(), 'ok first=2001 count=1000 last=€ done top=line 2002');
    assert.ok(renders < 20, `${renders} renders for 3,002 chunks`);
  } finally {
    await daemon.close();
  }
});

test('the stream says when it lost the daemon, and starts over when it is back', async () => {
  const record = run('01BACK', 'back');
  let daemon = await fakeDaemon((send) => {
    send({ type: 'run', run: record });
    send({ type: 'output', runId: record.id, seq: 1, stream: 'stdout', tsMs: 0, data: Buffer.from('before\n').toString('base64') });
  });
  function Probe() {
    const s = useLogStream(socketPath, record.id, { retryMs: 50 });
    return <Text>{`${s.error ? 'lost' : 'ok'} ${s.lines.join('|')}`}</Text>;
  }
  const { lastFrame } = render(<Probe />);
  await waitFor('the first line', () => lastFrame() === 'ok before');
  await daemon.close();
  await waitFor('the loss to show', () => lastFrame()?.startsWith('lost'));
  rmSync(socketPath, { force: true });
  daemon = await fakeDaemon((send) => {
    send({ type: 'run', run: record });
    send({ type: 'output', runId: record.id, seq: 1, stream: 'stdout', tsMs: 0, data: Buffer.from('before\nafter\n').toString('base64') });
  });
  try {
    await waitFor('the replayed log', () => lastFrame() === 'ok before|after', 5000);
  } finally {
    await daemon.close();
  }
});
