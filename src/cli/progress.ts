/**
 * A one-line progress bar for long CLI operations. On a terminal it redraws
 * itself in place with `\r`; elsewhere (a pipe, a log file, CI) it prints
 * nothing and the caller's own lines carry the progress: a file full of
 * carriage returns helps nobody. A dependency would be more than these lines.
 */
export class ProgressBar {
  private drawn = false;

  constructor(private readonly total: number, private readonly out: NodeJS.WriteStream = process.stdout, private readonly width = 30) {}

  get interactive(): boolean {
    return this.out.isTTY === true;
  }

  update(done: number, note: string): void {
    if (!this.interactive) return;
    const filled = this.total === 0 ? this.width : Math.round((done / this.total) * this.width);
    // 0 when the terminal reports no size (script(1), some CI ptys): then assume 80.
    const columns = this.out.columns || 80;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${done}/${this.total} ${note}`;
    this.out.write(`\r${line.slice(0, columns - 1).padEnd(Math.min(columns - 1, line.length + 10))}`);
    this.drawn = true;
  }

  /** Prints a line above the bar (or plainly, off a terminal). */
  log(line: string): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
  }

  done(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
