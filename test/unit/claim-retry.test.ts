import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimWithRetry, ClaimOutcomeUnknownError } from '../../src/daemon/ticks/claim-retry.js';
import type { ClaimOutcome, ClaimRequest } from '../../src/daemon/coordination/coordinator.js';

const TICK = Date.UTC(2026, 10, 21, 14, 29, 22);
const request: ClaimRequest = { job: 'wide', tickMs: TICK, holdBusy: false, perHost: true };

/**
 * Attempts answer from a script, one entry each (the last repeats); each
 * attempt takes `callMs` and sleeps move the clock, so "on time" is exact.
 */
function scripted(script: Array<ClaimOutcome | Error>, callMs = 0) {
  let now = TICK - 100;
  const errors: Array<{ attempt: number; retrying: boolean }> = [];
  let calls = 0;
  const opts = {
    clock: { now: () => now },
    lateGraceMs: 5000,
    sleep: async (ms: number) => void (now += ms),
    claim: async () => {
      const answer = script[Math.min(calls++, script.length - 1)];
      now += callMs;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    onError: (_err: unknown, attempt: number, retrying: boolean) => errors.push({ attempt, retrying }),
  };
  return { opts, errors, calls: () => calls, now: () => now };
}

test('a claim answered at once is returned as is', async () => {
  const s = scripted([{ outcome: 'claimed', fence: 7, previousTickMs: TICK - 1000 }]);
  assert.deepEqual(await claimWithRetry(request, s.opts), { outcome: 'claimed', fence: 7, previousTickMs: TICK - 1000 });
  assert.equal(s.calls(), 1);
});

test('a failure in transit is retried, and the retry recognising its own commit wins', async () => {
  const s = scripted([new Error('14 UNAVAILABLE: connection reset'), { outcome: 'claimed', fence: 9 }]);
  assert.deepEqual(await claimWithRetry(request, s.opts), { outcome: 'claimed', fence: 9 });
  assert.deepEqual(s.errors, [{ attempt: 1, retrying: true }]);
});

test('an unproven lease is retried while the tick is on time, then given up without a claim sent', async () => {
  const s = scripted([{ outcome: 'unproven' }, { outcome: 'unproven' }, { outcome: 'claimed', fence: 3 }]);
  assert.deepEqual(await claimWithRetry(request, s.opts), { outcome: 'claimed', fence: 3 });

  const late = scripted([{ outcome: 'unproven' }]);
  assert.deepEqual(await claimWithRetry(request, late.opts), { outcome: 'unproven' });
  assert.ok(late.now() - TICK > 5000, 'retried until the tick was late');
});

test('a failure in transit followed only by an unproven lease is an unknown outcome, not a quiet unproven', async () => {
  // The first claim may have committed with its reply lost; 'unproven' is refused before etcd is asked,
  // so it cannot say. Returning it would leave a claimed tick with no run and no record.
  const s = scripted([new Error('14 UNAVAILABLE: connection reset'), { outcome: 'unproven' }]);
  await assert.rejects(claimWithRetry(request, s.opts), (err: unknown) => {
    assert.ok(err instanceof ClaimOutcomeUnknownError);
    assert.match(err.message, /connection reset/);
    return true;
  });
  assert.ok(s.now() - TICK > 5000, 'retried until the tick was late');
});

test('a failure once the tick is late is thrown, and reported as not retried', async () => {
  const s = scripted([new Error('deadline exceeded')], 6000);
  await assert.rejects(claimWithRetry(request, s.opts), /deadline exceeded/);
  assert.deepEqual(s.errors, [{ attempt: 1, retrying: false }]);
});

test('retries back off, capped at a second', async () => {
  const sleeps: number[] = [];
  const s = scripted([{ outcome: 'unproven' }]);
  await claimWithRetry(request, { ...s.opts, sleep: async (ms) => { sleeps.push(ms); await s.opts.sleep(ms); } });
  assert.deepEqual(sleeps.slice(0, 5), [100, 200, 400, 800, 1000]);
  assert.ok(sleeps.every((ms) => ms <= 1000));
});
