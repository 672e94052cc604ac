/**
 * The database file under a running engine. `rm .hornets/hornets.db*` (or `git clean -fdX`, which
 * takes the whole state directory) unlinks the file while the engine still holds it open: the
 * engine would go on with a queue nobody else can reach, and the next CLI would create an empty
 * database beside it. The engine notices (the path no longer names the inode it opened) and puts
 * its own copy back: SQLite's online backup reads it through the open connection, WAL included.
 */
import { existsSync, linkSync, renameSync, rmSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { randomHex } from '../../util/ids.js';

type DB = Database.Database;

export interface FileIdentity {
  dev: number;
  ino: number;
}

export type FileCheck = 'same' | 'missing' | 'replaced';

export function fileIdentity(path: string): FileIdentity | null {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

export function checkFile(path: string, opened: FileIdentity | null): FileCheck {
  const now = fileIdentity(path);
  if (!now) return 'missing';
  if (!opened || (now.dev === opened.dev && now.ino === opened.ino)) return 'same';
  return 'replaced';
}

/** Where a database file goes when something else sits at its path: beside it, never deleted. */
function asideName(path: string, now: number): string {
  return `${path}.foreign-${new Date(now).toISOString().replace(/[:.]/g, '-')}-${randomHex(3)}`;
}

/**
 * Moves whatever database sits at `path` (with its -wal and -shm) aside and returns its new name,
 * or null when there is none. A CLI that did not see the engine may have created it and queued
 * messages in it: the caller imports them.
 */
export function moveAside(path: string, now: number): string | null {
  if (!existsSync(path)) return null;
  const aside = asideName(path, now);
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  return aside;
}

/**
 * Puts the engine's copy (made by backupCopy) at `path`. link(2) never replaces a file that
 * appeared meanwhile: that one is moved aside too and named in the result. Leftover -wal/-shm of
 * the deleted database are removed first, or SQLite would replay them onto the copy.
 */
export function placeCopy(copy: string, path: string, now: number): string[] {
  const foreign: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    if (!existsSync(path)) {
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
    }
    try {
      linkSync(copy, path);
      rmSync(copy, { force: true });
      return foreign;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const aside = moveAside(path, now);
      if (aside) foreign.push(aside);
    }
  }
  throw new Error(`${path} keeps being recreated; the engine's copy of the queue is kept at ${copy}`);
}

/** A full copy of the open database beside `path`, through the open connection (WAL included). */
export async function backupCopy(db: DB, path: string): Promise<string> {
  const copy = `${path}.restore-${randomHex(6)}`;
  await db.backup(copy);
  return copy;
}
