/**
 * Schema history of the daemon's SQLite file. The Nth entry brings the schema
 * from `PRAGMA user_version` N-1 to N. Entries are append-only: once released,
 * a migration is never edited, because databases in the field already ran it.
 */

export interface Migration {
  /** Shown when the migration fails. */
  name: string;
  sql: string;
}

// Tables are STRICT so a fractional or textual "ms" value is rejected instead
// of stored. Status and trigger columns carry no CHECK list: the TypeScript
// types guard them, and adding a status later must not need a table rebuild.
const RUN_LOG = `
CREATE TABLE runs (
  id           TEXT PRIMARY KEY,
  job          TEXT NOT NULL,
  tick_ms      INTEGER NOT NULL,
  trigger      TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  fence        INTEGER,
  host         TEXT NOT NULL,
  status       TEXT NOT NULL,
  started_ms   INTEGER NOT NULL,
  ended_ms     INTEGER,
  exit_code    INTEGER,
  signal       TEXT,
  pid          INTEGER,
  output_bytes INTEGER NOT NULL DEFAULT 0,
  truncated    INTEGER NOT NULL DEFAULT 0,
  message      TEXT
) STRICT;

-- Runs are ordered by (started_ms, id) everywhere; id breaks ties within a millisecond.
CREATE INDEX runs_by_job_start ON runs (job, started_ms, id);
CREATE INDEX runs_by_start ON runs (started_ms, id);
-- Partial: only the few running rows are indexed, not every finished run.
CREATE INDEX runs_running ON runs (started_ms, id) WHERE status = 'running';

-- A rowid table, not WITHOUT ROWID: chunks can be tens of KiB and SQLite
-- advises WITHOUT ROWID only for rows well under a page.
CREATE TABLE output (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq    INTEGER NOT NULL,
  stream TEXT NOT NULL,
  ts_ms  INTEGER NOT NULL,
  data   BLOB NOT NULL,
  PRIMARY KEY (run_id, seq)
) STRICT;
`;

const JOB_CURSORS = `
CREATE TABLE job_cursor (
  job       TEXT PRIMARY KEY,
  cursor_ms INTEGER,
  fence     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`;

// Null for runs of jobs that are not sharded: every record written before shards existed.
const RUN_SHARDS = `
ALTER TABLE runs ADD COLUMN shard INTEGER;
ALTER TABLE runs ADD COLUMN shards INTEGER;
CREATE INDEX runs_by_job_tick ON runs (job, tick_ms) WHERE shard IS NOT NULL;
`;

// A sharded or depended-on job's ticks as their runs end, and each job's newest ended ticks (ticks/tick-ledger.ts).
const TICK_LEDGER = `
CREATE TABLE tick_ledger (
  job      TEXT NOT NULL,
  tick_ms  INTEGER NOT NULL,
  state    TEXT NOT NULL,
  PRIMARY KEY (job, tick_ms)
) STRICT, WITHOUT ROWID;
CREATE TABLE job_done (
  job   TEXT PRIMARY KEY,
  state TEXT NOT NULL
) STRICT, WITHOUT ROWID;
`;

// Operators' pauses of jobs on a single host (jobs/job-pauses.ts); in a cluster they live in etcd.
const JOB_PAUSES = `
CREATE TABLE job_pause (
  job    TEXT PRIMARY KEY,
  state  TEXT NOT NULL
) STRICT, WITHOUT ROWID;
`;

// Past ticks run by `dcron backfill` / `dcron run --tick` on a single host, one row per unit and tick, created
// once (ticks/backfiller.ts): the primary key is what makes a tick run once however often it is backfilled.
// The index answers "did this tick already run?" for any job, not only sharded ones (runs_by_job_tick).
const BACKFILL_CLAIMS = `
CREATE TABLE backfill_claim (
  unit     TEXT NOT NULL,
  tick_ms  INTEGER NOT NULL,
  by_host  TEXT NOT NULL,
  at_ms    INTEGER NOT NULL,
  PRIMARY KEY (unit, tick_ms)
) STRICT, WITHOUT ROWID;
CREATE INDEX runs_by_job_tick_ms ON runs (job, tick_ms);
`;

export const MIGRATIONS: readonly Migration[] = [
  { name: 'run log', sql: RUN_LOG },
  { name: 'job cursors', sql: JOB_CURSORS },
  { name: 'run shards', sql: RUN_SHARDS },
  { name: 'tick ledger', sql: TICK_LEDGER },
  { name: 'job pauses', sql: JOB_PAUSES },
  { name: 'backfill claims', sql: BACKFILL_CLAIMS },
];
