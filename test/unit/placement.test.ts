import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimDelay, placementOrder } from '../../src/daemon/cluster/rendezvous.js';
import { parseHostSelector } from '../../src/daemon/cluster/host-selector.js';

const nodes = ['a', 'b', 'c'];

test('every node computes the same order, and ticks spread evenly', () => {
  const firsts = new Map<string, number>();
  for (let t = 0; t < 3000; t++) {
    const order = placementOrder('job', t * 1000, nodes);
    assert.deepEqual(order, placementOrder('job', t * 1000, [...nodes].reverse()));
    firsts.set(order[0], (firsts.get(order[0]) ?? 0) + 1);
  }
  for (const n of nodes) assert.ok(Math.abs(firsts.get(n)! - 1000) < 120, `${n} preferred ${firsts.get(n)} of 3000 ticks`);
});

test('when a node dies only its ticks move', () => {
  let moved = 0;
  for (let t = 0; t < 1000; t++) {
    const before = placementOrder('job', t * 1000, nodes)[0];
    const after = placementOrder('job', t * 1000, ['a', 'b'])[0];
    if (before !== 'c') assert.equal(after, before);
    else moved++;
  }
  assert.ok(moved > 250);
});

test('claim delay is rank times the handicap; ineligible nodes get none', () => {
  const order = placementOrder('j', 5000, nodes);
  assert.deepEqual(order.map((n) => claimDelay('j', 5000, n, nodes, 100)), [0, 100, 200]);
  assert.equal(claimDelay('j', 5000, 'z', nodes, 100), null);
});

test('hosts= takes globs over node ids or label selectors', () => {
  const web1 = { id: 'web-1', labels: { role: 'web', zone: 'a' } };
  const db1 = { id: 'db-1', labels: { role: 'db', zone: 'a' } };
  assert.ok(parseHostSelector(null)(web1));
  assert.ok(parseHostSelector('web-*')(web1));
  assert.ok(!parseHostSelector('web-*')(db1));
  assert.ok(parseHostSelector('web-*|db-?')(db1));
  assert.ok(parseHostSelector('db-[12]')(db1));
  assert.ok(parseHostSelector('role=db,zone=a')(db1));
  assert.ok(!parseHostSelector('role=db,zone=b')(db1));
  assert.ok(!parseHostSelector('web.1')({ id: 'webx1', labels: {} }), 'dots are literal');
});
