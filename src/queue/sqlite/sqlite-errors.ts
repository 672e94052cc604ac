import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { QueueError, errorMessage } from '../../errors.js';
import { recoveryHint } from './recovery-hint.js';

interface SqliteLikeError {
  code?: string;
  message?: string;
}

export function sqliteCode(err: unknown): string | undefined {
  const code = (err as SqliteLikeError | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_BUSY' || code?.startsWith('SQLITE_BUSY_') === true || code === 'SQLITE_LOCKED';
}

/** Translates a better-sqlite3 error into a QueueError a user can act on; passes QueueErrors through. */
export function mapSqliteError(err: unknown, dbPath: string): Error {
  if (err instanceof QueueError) return err;
  const code = sqliteCode(err) ?? '';
  const detail = errorMessage(err);
  if (code === 'SQLITE_NOTADB') {
    return new QueueError('not_hornets_db', `${dbPath} is not a hornets database (not an SQLite file)`, { path: dbPath }, { cause: err });
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new QueueError('read_only', `cannot write ${dbPath}: the database or its directory is read-only (${detail})`, { path: dbPath }, { cause: err });
  }
  if (code === 'SQLITE_FULL') {
    return new QueueError('disk_full', `cannot write ${dbPath}: the disk is full (nothing was changed)`, { path: dbPath }, { cause: err });
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new QueueError('corrupt', `${dbPath} is damaged (${detail}); nothing was written. To recover: ${recoveryHint(dbPath)}`, { path: dbPath }, { cause: err });
  }
  if (isBusy(err)) {
    return new QueueError('busy', `${dbPath} stayed locked by another process for too long (${detail})`, { path: dbPath }, { cause: err });
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR')) {
    // SQLite only says "unable to open database file"; a WAL database cannot even be read when its
    // directory is read-only (the -shm/-wal files cannot be created), so name that cause.
    const readOnlyDir = unwritableDir(dbPath);
    if (readOnlyDir) {
      return new QueueError('read_only', `cannot open ${dbPath}: ${readOnlyDir}`, { path: dbPath }, { cause: err });
    }
    return new QueueError('io', `cannot open or write ${dbPath} (${detail})`, { path: dbPath }, { cause: err });
  }
  return err instanceof Error ? err : new Error(detail);
}

/** Why the database directory cannot be written, or null when it can (or the check itself fails oddly). */
function unwritableDir(dbPath: string): string | null {
  const dir = dirname(dbPath);
  try {
    accessSync(dir, constants.W_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return `its directory ${dir} is on a read-only file system`;
    if (code === 'EACCES' || code === 'EPERM') return `its directory ${dir} is read-only for this user (permission denied)`;
    return null;
  }
}
