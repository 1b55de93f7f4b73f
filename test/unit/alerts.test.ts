import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCrontab } from '../../src/daemon/crontab/parse.js';
import type { OutputChunk, RunRecord } from '../../src/daemon/runlog/types.js';
import { outputTail, webhookPayload } from '../../src/daemon/alerts/alerter.js';
import { composeMail, findSendmail, Mailer } from '../../src/daemon/alerts/mail.js';

const chunk = (text: string, seq = 1): OutputChunk => ({ runId: 'r', seq, stream: 'stdout', tsMs: 0, data: Buffer.from(text) });
const job = (text: string) => parseCrontab(text, { file: '/etc/crontab', defaultTz: 'Europe/Berlin' }).jobs[0];
const run: RunRecord = {
  id: '01RUN', job: 'j', tickMs: Date.UTC(2026, 2, 1, 1, 30), trigger: 'schedule', attempt: 2, fence: 7, host: 'web-1', status: 'failed',
  startedMs: 1, endedMs: 2, exitCode: 1, signal: null, pid: null, outputBytes: 0, truncated: false, message: null, shard: null, shards: null,
};

test('outputTail keeps the last bytes across chunks and never starts inside a character', () => {
  assert.equal(outputTail([chunk('abc'), chunk('def', 2)], 4), 'cdef');
  assert.equal(outputTail([chunk('short')], 4096), 'short');
  assert.equal(outputTail([], 4096), '');
  // 'é' is two bytes: cutting into it drops the orphaned continuation byte.
  assert.equal(outputTail([chunk('éé')], 3), 'é');
});

test('the webhook payload carries the tick in the job\'s zone', () => {
  const p = webhookPayload(job('#dcron name=j\n0 0 * * * x\n'), run, [chunk('oops\n')]);
  assert.equal(p.tick, '2026-03-01T02:30:00+01:00');
  assert.equal(p.attempt, 2);
  assert.equal(p.outputTail, 'oops\n');
});

test('a mail has cron\'s subject, and no header value can add a header', () => {
  const j = job('MAILTO=a@example.com\n#dcron name=j\n0 0 * * * echo hi\n');
  const mail = composeMail(j, run, 'a@example.com\nBcc: evil@example.com', [chunk('hi\n')]).toString();
  const [head, body] = mail.split('\n\n');
  assert.match(head, /^Subject: Cron <[^>]+> echo hi$/m);
  assert.match(head, /^To: a@example.com Bcc: evil@example.com$/m);
  assert.doesNotMatch(head, /^Bcc:/m);
  assert.equal(body, 'hi\n');
});

test('MAILTO: unset or empty means no mail', () => {
  assert.equal(Mailer.recipients(job('0 0 * * * x\n')), null);
  assert.equal(Mailer.recipients(job('MAILTO=""\n0 0 * * * x\n')), null);
  assert.equal(Mailer.recipients(job('MAILTO=a@b.c,d@e.f\n0 0 * * * x\n')), 'a@b.c,d@e.f');
});

test('findSendmail looks on PATH first, then at the given absolute paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcron-sendmail-'));
  try {
    const fixed = join(dir, 'fixed-sendmail');
    writeFileSync(fixed, '#!/bin/sh\n');
    chmodSync(fixed, 0o755);
    assert.equal(findSendmail({ PATH: '/nonexistent' }, []), null);
    assert.equal(findSendmail({ PATH: '/nonexistent' }, [join(dir, 'missing'), fixed]), fixed);
    writeFileSync(join(dir, 'sendmail'), '#!/bin/sh\n');
    chmodSync(join(dir, 'sendmail'), 0o755);
    assert.equal(findSendmail({ PATH: dir }, [fixed]), join(dir, 'sendmail'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
