import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { DaemonProcess, Workspace } from '../helpers/daemon-process.js';
import { EtcdCluster, freePort } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

/** A real `dcron daemon --metrics`, scraped over HTTP as Prometheus would. */
const ws = new Workspace();
const daemons: DaemonProcess[] = [];
let etcd: EtcdCluster | undefined;

after(async () => {
  await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  await etcd?.stop();
  ws.cleanup();
});

/** Samples of the text exposition: `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const value = (m: Map<string, number>, key: string): number => {
  const v = m.get(key);
  assert.ok(v !== undefined, `no sample ${key}`);
  return v;
};

test('single host: /metrics serves live counters, histograms and gauges; other paths are 404', async () => {
  ws.writeCrontab(['#dcron name=tick', '* * * * * * true', '#dcron name=slow overlap=skip', '* * * * * * sleep 2.5', ''].join('\n'));
  const port = await freePort();
  const d = await DaemonProcess.start(ws, ['--metrics', `127.0.0.1:${port}`]);
  daemons.push(d);
  const url = `http://127.0.0.1:${port}/metrics`;

  const first = await waitFor('a first run to be counted', async () => {
    const m = await scrape(url);
    return value(m, 'dcron_runs_total{status="ok"}') >= 1 ? m : false;
  });
  for (const name of ['dcron_ticks_due_total', 'dcron_ticks_claimed_total', 'dcron_ticks_run_total', 'dcron_ticks_skipped_total', 'dcron_ticks_missed_total']) value(first, name);
  assert.ok(value(first, 'dcron_fire_latency_seconds_count') >= 1);
  assert.ok(value(first, 'dcron_run_duration_seconds_count') >= 1);
  assert.equal(value(first, 'dcron_lease_healthy'), 1);
  assert.ok(first.has('process_cpu_seconds_total'), 'default process metrics are exported');
  assert.ok(first.has('nodejs_heap_size_used_bytes'));
  assert.ok(!first.has('dcron_lease_keepalive_age_seconds'), 'no lease on a single host');
  assert.ok(![...first.keys()].some((k) => k.includes('job=')), 'no per-job label');

  // Counters go up between scrapes.
  const later = await waitFor('counters to increase', async () => {
    const m = await scrape(url);
    const up = (k: string) => value(m, k) > value(first, k);
    return up('dcron_ticks_due_total') && up('dcron_ticks_claimed_total') && up('dcron_ticks_run_total') && up('dcron_runs_total{status="ok"}') && up('dcron_fire_latency_seconds_count') ? m : false;
  });
  // Every tick that ran on time was claimed and came due first; on-time fire latency stays under a second.
  assert.ok(value(later, 'dcron_ticks_due_total') >= value(later, 'dcron_ticks_claimed_total'));
  assert.ok(value(later, 'dcron_ticks_claimed_total') >= value(later, 'dcron_ticks_run_total'));
  assert.ok(value(later, 'dcron_fire_latency_seconds_bucket{le="1"}') >= 1);

  // The slow job: running while it sleeps, and its next ticks are skipped (overlap=skip).
  await waitFor('a run in flight', async () => value(await scrape(url), 'dcron_running_jobs') >= 1);
  await waitFor('an overlap skip', async () => {
    const m = await scrape(url);
    return value(m, 'dcron_ticks_skipped_total') >= 1 && value(m, 'dcron_runs_total{status="skipped"}') >= 1;
  });

  const notFound = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(notFound.status, 404);
  await notFound.text();
  const post = await fetch(url, { method: 'POST' });
  assert.equal(post.status, 404);
  await post.text();

  assert.equal(await d.stop(), 0);
});

test('cluster: lease health 1, keepalive age and a clock-skew gauge for the node', async () => {
  etcd = await EtcdCluster.start(1);
  const dir = ws.path('cluster');
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/crontab`, '#dcron name=beat\n* * * * * * true\n');
  const port = await freePort();
  const d = await DaemonProcess.launch({
    dataDir: `${dir}/data`,
    args: ['--etcd', etcd.endpoints, '--cluster', 'metrics', '--crontab', `${dir}/crontab`, '--node-id', 'm-1', '--metrics', `127.0.0.1:${port}`],
  });
  daemons.push(d);
  const url = `http://127.0.0.1:${port}/metrics`;
  const m = await waitFor('a claimed tick and the node in the directory', async () => {
    const s = await scrape(url);
    return s.has('dcron_clock_skew_seconds{node="m-1"}') && value(s, 'dcron_ticks_claimed_total') >= 1 ? s : false;
  }, 20_000);
  assert.equal(value(m, 'dcron_lease_healthy'), 1);
  const age = value(m, 'dcron_lease_keepalive_age_seconds');
  assert.ok(age >= 0 && age < 5, `keepalive age ${age}`);
  assert.ok(Math.abs(value(m, 'dcron_clock_skew_seconds{node="m-1"}')) < 1);
  assert.equal(value(m, 'dcron_etcd_request_errors_total{op="claim"}'), 0);
  assert.equal(await d.stop(), 0);
});
