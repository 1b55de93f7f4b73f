/**
 * Shared interface between the bench runner (bench/run.ts) and each bench
 * module (bench/<name>.ts). Compiled by `npm run bench` into dist/bench/.
 *
 * A bench module is bench/<name>.ts exporting
 *
 *   export const name = "scale";               // what --only matches
 *   export async function run(ctx: BenchContext): Promise<BenchResult[]>;
 *
 * and is listed in BENCHES in bench/run.ts. It returns one BenchResult per
 * figure; the runner prints them as a table and writes them to
 * bench/results/latest.json.
 */

export interface BenchResult {
  /** Figure name, e.g. "scale.parse_100k" or "fire.single.1job.p99". */
  name: string;
  /** The measured value. */
  figure: number;
  /** Unit of figure, target and floor: "ms", "s", "MB", "%", "ticks/s", ... */
  unit: string;
  /** Target the figure is judged against (same unit), if any. */
  target?: number;
  /** Floor (or peer) measured in the same run (same unit), if any. */
  floor?: number;
  /** figure / floor, or whatever ratio the target is stated in. */
  ratio?: number;
  /** Whether the target is met; undefined when there is no target. */
  pass?: boolean;
  /** One line: how it was measured (what, how many, which window). */
  how: string;
}

export interface BenchContext {
  /** Repository root (absolute). */
  root: string;
  /** A scratch directory for this bench module (created, removed after). */
  tmp: string;
  /** Extra args after `npm run bench --` not consumed by the runner. */
  args: string[];
  /** Progress output (stderr), so stdout stays the table. */
  log: (msg: string) => void;
}

export interface BenchModule {
  name: string;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}
