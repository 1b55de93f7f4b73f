/** Small text helpers for tables and times in the terminal. */

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `1h 5m`, `42s`, `350ms`: the two largest units. */
export function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)}ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)}s`;
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = abs;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) parts.push(`${n}${name}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.filter((p) => !p.startsWith('0')).join(' ') || '0s';
}

export const relative = (ms: number, nowMs: number): string =>
  ms >= nowMs ? `in ${humanDuration(ms - nowMs)}` : `${humanDuration(nowMs - ms)} ago`;

/** Local wall time `YYYY-MM-DD HH:MM:SS` of an instant, for tables. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `1/4`: a shard run's index (DCRON_SHARD, from 0, as `logs --shard` takes it) of the tick's count; null when not a shard run. */
export const shardOf = (run: { shard: number | null; shards: number | null }): string | null =>
  run.shard === null ? null : `${run.shard}/${run.shards ?? '?'}`;

/** `backup[1/4]` for a shard run, `backup` otherwise. */
export const runName = (run: { job: string; shard: number | null; shards: number | null }): string => {
  const shard = shardOf(run);
  return shard === null ? run.job : `${run.job}[${shard}]`;
};

/** The schedule column of `ls` and the TUI: the schedule (or the jobs it follows) in words, and the shard count. */
export const scheduleColumn = (job: { description: string; shards: number }): string =>
  job.shards > 1 ? `${job.description} ×${job.shards} shards` : job.description;

/** A dependent job has no timer: it is due when its parents end a tick, so it has no next tick to show. */
export const isDependentView = (job: { after: string[] | null; afterFailure: string[] | null }): boolean => job.after !== null || job.afterFailure !== null;
