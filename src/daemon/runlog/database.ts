import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DcronError } from '../errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { makeDatabasePrivate } from './private-file.js';

/** The daemon's SQLite connection, shared by the run log and the embedded coordinator. */
export type Db = Database.Database;

export interface OpenOptions {
  /** How long a statement waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

export class DatabaseOpenError extends DcronError {
  constructor(readonly file: string, cause: unknown) {
    super(`cannot open database ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The file was written by a newer dcron; running old code on it could corrupt it. */
export class SchemaTooNewError extends DcronError {
  constructor(readonly file: string, readonly found: number, readonly known: number) {
    super(`database ${file} has schema version ${found}, this dcron knows up to ${known}: upgrade dcron`);
  }
}

export class MigrationError extends DcronError {
  constructor(readonly version: number, readonly migration: string, cause: unknown) {
    super(
      `schema migration ${version} (${migration}) failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** Opens (creating if needed) the SQLite file and brings its schema up to date. */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const db = connect(file, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
  try {
    applyMigrations(db, MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function connect(file: string, busyTimeoutMs: number): Db {
  let db: Db | undefined;
  try {
    // The run log holds job output, which may contain secrets: keep it to the daemon's user.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    makeDatabasePrivate(file);
    db = new Database(file, { timeout: busyTimeoutMs });
    // WAL lets readers run while the daemon writes output; with WAL, NORMAL only
    // risks the last commits on power loss, never corruption, and avoids an fsync per chunk.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    return db;
  } catch (cause) {
    db?.close();
    throw new DatabaseOpenError(file, cause);
  }
}

/**
 * Runs the migrations the file has not seen yet, each in its own transaction
 * together with its `user_version` bump, so a failure leaves the schema at the
 * last migration that completed.
 */
export function applyMigrations(db: Db, migrations: readonly Migration[]): void {
  const found = userVersion(db);
  if (found > migrations.length) throw new SchemaTooNewError(db.name, found, migrations.length);
  for (let version = found + 1; version <= migrations.length; version++) {
    applyMigration(db, version, migrations[version - 1]);
  }
}

function applyMigration(db: Db, version: number, migration: Migration): void {
  const apply = db.transaction(() => {
    // Re-read under the write lock: another process opening the same file may have migrated meanwhile.
    if (userVersion(db) >= version) return;
    db.exec(migration.sql);
    db.pragma(`user_version = ${version}`);
  });
  try {
    apply.immediate();
  } catch (cause) {
    throw new MigrationError(version, migration.name, cause);
  }
}

function userVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}
