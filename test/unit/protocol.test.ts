import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineDecoder, encodeLine } from '../../src/daemon/control/protocol.js';

test('lines cut anywhere across chunks decode to the same messages', () => {
  const messages = [{ id: 1, method: 'ls' }, { id: 2, result: { text: 'a\\nb "q"' } }, { id: 3, end: true }];
  const wire = messages.map(encodeLine).join('');
  for (let cut = 1; cut < 9; cut++) {
    const d = new LineDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < wire.length; i += cut) out.push(...d.push(wire.slice(i, i + cut)));
    assert.deepEqual(out, messages);
  }
});

test('a line of tens of megabytes in 64 KiB chunks decodes in linear time', () => {
  const d = new LineDecoder();
  const wire = encodeLine({ big: 'x'.repeat(20_000_000) });
  const out: unknown[] = [];
  for (let i = 0; i < wire.length; i += 65_536) out.push(...d.push(wire.slice(i, i + 65_536)));
  assert.equal((out[0] as { big: string }).big.length, 20_000_000);
});
