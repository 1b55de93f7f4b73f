import { formatDiagnostic } from '../../daemon/crontab/parse.js';
import type { Diagnostic } from '../../daemon/crontab/types.js';
import { readCrontab } from '../../daemon/jobs/crontab-source.js';
import { neverFires } from '../../daemon/schedule/index.js';
import { UserError } from '../errors.js';
import { withDaemon, type DataDirOptions } from '../context.js';

/**
 * The daemon's own parser run alone. Errors and warnings go to stderr as
 * `file:line:col`; the summary to stdout. Exit 1 on any error.
 */
export async function validateCommand(file: string, opts: DataDirOptions & { diff?: boolean } = {}): Promise<void> {
  const parsed = readCrontab(file);
  const now = Date.now();
  const never: Diagnostic[] = parsed.jobs
    .filter((j) => neverFires(j.schedule, j.tz, now))
    .map((j) => ({
      severity: 'warning',
      file: j.source.file,
      line: j.source.line,
      column: 1,
      message: `schedule '${j.scheduleText}' can never fire`,
      text: j.scheduleText,
    }));
  const all = [...parsed.diagnostics, ...never].sort((a, b) => a.line - b.line || a.column - b.column);
  for (const d of all) process.stderr.write(formatDiagnostic(d) + '\n');
  const errors = all.filter((d) => d.severity === 'error').length;
  const warnings = all.length - errors;
  const summary = `${file}: ${parsed.jobs.length} job(s), ${errors} error(s), ${warnings} warning(s)`;
  if (opts.diff) {
    const diff = await withDaemon(opts, (c) => c.call('diff', { jobs: parsed.jobs, hasErrors: errors > 0 }));
    process.stdout.write(diff.text + '\n');
  }
  if (errors > 0) throw new UserError(summary);
  process.stdout.write(summary + '\n');
}
