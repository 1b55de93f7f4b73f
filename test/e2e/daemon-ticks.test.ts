import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { DaemonProcess, Workspace, cli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';

interface LedgerLine {
  job: string;
  tickMs: number;
  fence: number;
  trigger: string;
  tick: string;
}

/** What the jobs themselves wrote: the test trusts this, not dcron's bookkeeping. */
function readLedger(path: string): LedgerLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [job, tickMs, fence, trigger, tick] = l.split(' ');
      return { job, tickMs: Number(tickMs), fence: Number(fence), trigger, tick };
    });
}

const ws = new Workspace();
after(() => ws.cleanup());

test('second-level jobs run every tick exactly once, with increasing fences', async () => {
  const ledger = ws.path('ledger');
  const record = `echo "$DCRON_JOB $DCRON_TICK_MS $DCRON_FENCE $DCRON_TRIGGER $DCRON_TICK" >> ${ledger}`;
  ws.writeCrontab(['#dcron name=every-second', `* * * * * * ${record}`, '#dcron name=every-2s', `*/2 * * * * * ${record}`, '#dcron name=every-1s', `@every 1s ${record}`, ''].join('\n'));
  const startedMs = Date.now();
  const daemon = await DaemonProcess.start(ws);
  await waitFor('six seconds of ticks', () => readLedger(ledger).filter((l) => l.job === 'every-second').length >= 6, 20_000);
  assert.equal(await daemon.stop(), 0, daemon.stderr);
  const stoppedMs = Date.now();

  const lines = readLedger(ledger);
  for (const [job, step] of [['every-second', 1000], ['every-2s', 2000], ['every-1s', 1000]] as const) {
    const ticks = lines.filter((l) => l.job === job).map((l) => l.tickMs);
    assert.ok(ticks.length >= 2, `${job} ran: ${ticks}`);
    assert.equal(new Set(ticks).size, ticks.length, `${job} ran a tick twice: ${ticks}`);
    const sorted = [...ticks].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i] - sorted[i - 1], step, `${job} skipped a tick between ${sorted[i - 1]} and ${sorted[i]}`);
    assert.ok(sorted[0] > startedMs - 1000 && sorted[0] <= startedMs + step + 2000, `${job} first tick ${sorted[0]} vs start ${startedMs}`);
    assert.ok(sorted[sorted.length - 1] <= stoppedMs);
    assert.ok(sorted.every((t) => t % step === 0), `${job} ticks are aligned`);
    const fences = lines.filter((l) => l.job === job).map((l) => l.fence);
    for (let i = 1; i < fences.length; i++) assert.ok(fences[i] > fences[i - 1], `${job} fences increase: ${fences}`);
    assert.ok(lines.filter((l) => l.job === job).every((l) => l.trigger === 'schedule'));
  }
  const sample = lines[0];
  assert.equal(Date.parse(sample.tick), sample.tickMs, 'DCRON_TICK is the same instant as DCRON_TICK_MS');
  assert.match(sample.tick, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
});

test('a run gets the DCRON_* variables, the crontab env lines and the crontab directory as cwd', async () => {
  const out = ws.path('env.out');
  ws.writeCrontab(['GREETING = "hello there"', 'SHELL=/bin/bash', '#dcron name=show-env', `0 0 1 1 * { env | grep -E '^(DCRON_|GREETING=|SHELL=)' | sort; echo "PWD=$(pwd)"; } > ${out}`, ''].join('\n'));
  const daemon = await DaemonProcess.start(ws);
  try {
    const r = await cli(['run', 'show-env', '--follow'], { dataDir: ws.dataDir });
    assert.equal(r.code, 0, r.stderr);
    const env = Object.fromEntries(readFileSync(out, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(env.DCRON_JOB, 'show-env');
    assert.equal(env.DCRON_TRIGGER, 'manual');
    assert.equal(env.DCRON_ATTEMPT, '1');
    assert.equal(env.DCRON_HOST, 'test-node');
    assert.match(env.DCRON_RUN_ID, /^[0-9A-Z]{26}$/);
    assert.ok(Number(env.DCRON_FENCE) >= 1);
    assert.equal(Date.parse(env.DCRON_TICK), Number(env.DCRON_TICK_MS));
    assert.equal(env.GREETING, 'hello there');
    assert.equal(env.SHELL, '/bin/bash');
    assert.equal(env.PWD, ws.dir);
  } finally {
    await daemon.stop();
  }
});

test('dcron nodes on one host shows its slots and the figures requires= compares, and --json carries them', async () => {
  ws.writeCrontab('#dcron name=idle requires=mem>=1MiB\n0 0 1 1 * true\n');
  const daemon = await DaemonProcess.start(ws, ['--slots', '2']);
  try {
    const shown = await cli(['nodes'], { dataDir: ws.dataDir });
    assert.equal(shown.code, 0, shown.stderr);
    const [header, row] = shown.stdout.split('\n');
    assert.match(header, /SLOTS +MEM FREE +LOAD +DISK FREE +UP/);
    assert.match(row, /^test-node \* .* 0\/2 +[\d.]+ [KMGT]iB +\d+\.\d\d +[\d.]+ [KMGT]iB /);
    const [node] = JSON.parse((await cli(['nodes', '--json'], { dataDir: ws.dataDir })).stdout);
    assert.deepEqual(node.slots, { used: 0, total: 2 });
    assert.ok(node.figures.memFreeBytes > 0 && node.figures.load1 >= 0 && node.figures.diskFreeBytes > 0, JSON.stringify(node.figures));
  } finally {
    await daemon.stop();
  }
});
