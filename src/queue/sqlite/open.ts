/**
 * Opening a hornets database: refuse files that are not ours, create it private, set the pragmas
 * (WAL, synchronous, incremental auto-vacuum on new files) and run the migrations of migrations.ts.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync, statSync, chmodSync } from 'node:fs';
import { QueueError } from '../../errors.js';
import type { StoreOptions } from '../store.js';
import { HORNETS_APPLICATION_ID, LATEST_SCHEMA_VERSION, migrations } from './migrations.js';
import { isBusy, mapSqliteError } from './sqlite-errors.js';
import { recordDamage } from './damage.js';
import { sqliteAddon } from './addon.js';

export type DB = Database.Database;

export interface SqliteStoreOptions extends StoreOptions {
  /** NORMAL (default): durable across process crashes, may lose the last commits on power loss. FULL: fsync every commit. */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long one statement waits for another process's write lock (ms). */
  busyTimeoutMs?: number;
  /** Total time a write keeps retrying on SQLITE_BUSY before giving up (ms). */
  busyRetryMs?: number;
  /** `PRAGMA optimize` on close (default true); short-lived hook processes skip it. */
  optimizeOnClose?: boolean;
  /**
   * WAL pages after which a commit checkpoints (default 4000). A process that exits without closing
   * (the hook fallback) leaves the WAL to the next opener, who replays what was written since the
   * last checkpoint: such processes keep it short.
   */
  walAutocheckpointPages?: number;
}

const SQLITE_HEADER = 'SQLite format 3\0';

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Refuses files that are not SQLite before better-sqlite3 can touch them. */
function checkHeader(path: string): void {
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  if (size === 0) return;
  if (size < 100) throw new QueueError('not_hornets_db', `${path} is not a hornets database (file is truncated or not SQLite)`, { path });
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    readSync(fd, buf, 0, 16, 0);
    if (buf.toString('latin1') !== SQLITE_HEADER) {
      throw new QueueError('not_hornets_db', `${path} is not a hornets database (not an SQLite file)`, { path });
    }
  } finally {
    closeSync(fd);
  }
}

/** Creates the file 0600 ourselves: SQLite would use the umask, and -wal/-shm inherit the db file's mode. */
function ensurePrivateFile(path: string): void {
  if (path === ':memory:' || path.startsWith('file:')) return;
  if (!existsSync(path)) {
    closeSync(openSync(path, 'a', 0o600));
    return;
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    try {
      chmodSync(path, 0o600);
    } catch {
      // Not ours to fix (another owner); opening still works and the caller's logs say so.
    }
  }
  // SQLite creates -wal and -shm with the database file's mode of that moment: a database that was
  // read-only (0400) once leaves a read-only -shm behind, and SQLite then opens the database
  // read-only for good, long after the file itself was made writable again.
  if ((mode & 0o200) === 0) return;
  for (const side of [`${path}-wal`, `${path}-shm`]) {
    try {
      const sideMode = statSync(side).mode & 0o777;
      if ((sideMode & 0o600) !== 0o600 || (sideMode & 0o077) !== 0) chmodSync(side, 0o600);
    } catch {
      // Absent (no WAL yet), or not ours.
    }
  }
}

/**
 * Opens (creating if needed) and migrates the database. New files get `auto_vacuum = INCREMENTAL`
 * so pruning can hand freed pages back to the file system in small steps; the mode can only be
 * chosen before the first table exists (an older file keeps its mode until a full VACUUM).
 */
export function openDatabase(path: string, options: SqliteStoreOptions = {}): DB {
  checkHeader(path);
  let db: DB | undefined;
  try {
    ensurePrivateFile(path);
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 5_000, ...sqliteAddon() });
    const database = db;
    const retry = <T>(fn: () => T): T => withBusyRetry(fn, options.busyRetryMs ?? 30_000);
    // One snapshot for both of its reads: another process creating this database commits its
    // tables and its identity together, and read apart they look like a foreign database.
    const ours = retry(() => database.transaction(() => checkIdentity(database, path))());
    // A database that already carries our identity has tables: no need to count them.
    if (!ours && isEmpty(database)) database.pragma('auto_vacuum = INCREMENTAL');
    retry(() => database.pragma('journal_mode = WAL'));
    database.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    database.pragma('foreign_keys = ON');
    // Fewer, larger checkpoints: each one rewrites hot index pages, so batching them pays.
    database.pragma(`wal_autocheckpoint = ${Math.max(1, Math.floor(options.walAutocheckpointPages ?? 4000))}`);
    retry(() => migrate(database, path));
    return database;
  } catch (err) {
    db?.close();
    const mapped = mapSqliteError(err, path);
    // Damage met on the way in is recorded like damage met later, so the engine and health checks hear of it.
    if (mapped instanceof QueueError && mapped.code === 'corrupt') recordDamage(path, mapped.message, Date.now());
    throw mapped;
  }
}

function isEmpty(db: DB): boolean {
  return (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master`).get() as { n: number }).n === 0;
}

export function withBusyRetry<T>(fn: () => T, budgetMs: number): T {
  const deadline = Date.now() + budgetMs;
  let delay = 2;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
      sleepSync(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
  }
}

/** Throws on a foreign or too new database; true when it already carries our identity. */
function checkIdentity(db: DB, path: string): boolean {
  const appId = Number(db.pragma('application_id', { simple: true }));
  const version = Number(db.pragma('user_version', { simple: true }));
  if (appId !== 0 && appId !== HORNETS_APPLICATION_ID) {
    throw new QueueError('not_hornets_db', `${path} is an SQLite database of another application (application_id ${appId}), not a hornets database`, { path });
  }
  if (appId === 0) {
    const tables = (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`).get() as { n: number }).n;
    if (tables > 0) throw new QueueError('not_hornets_db', `${path} is an SQLite database but not a hornets database (it has other tables)`, { path });
  }
  if (version > LATEST_SCHEMA_VERSION) {
    throw new QueueError('schema_too_new', `${path} has schema version ${version}, newer than this hornets-tui understands (${LATEST_SCHEMA_VERSION}); upgrade hornets-tui`, {
      path,
      version,
      supported: LATEST_SCHEMA_VERSION,
    });
  }
  return appId === HORNETS_APPLICATION_ID;
}

function migrate(db: DB, path: string): void {
  const current = Number(db.pragma('user_version', { simple: true }));
  if (current >= LATEST_SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read under the write lock: another process may have migrated while we waited.
    const version = Number(db.pragma('user_version', { simple: true }));
    if (version > LATEST_SCHEMA_VERSION) throw new QueueError('schema_too_new', `${path} was upgraded by a newer hornets-tui`, { path });
    for (let v = version; v < LATEST_SCHEMA_VERSION; v++) db.exec(migrations[v]!);
    db.pragma(`application_id = ${HORNETS_APPLICATION_ID}`);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION}`);
  }).immediate();
}
