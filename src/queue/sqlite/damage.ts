/**
 * A damaged database file. Overwritten bytes often sit in pages a new message never touches, so
 * `send` kept saying "queued" while the engine could deliver nothing. Whoever finds the damage
 * (SQLITE_CORRUPT from any statement, or the engine's periodic quick_check on a fresh connection)
 * leaves a marker beside the file; every process then refuses writes on that file — reads still
 * work, so what is readable can be exported — until the file is replaced (the marker names the
 * inode it is about, so a restored database is not held to it).
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../../util/private-files.js';
import { fileIdentity } from './file-guard.js';
import { sqliteAddon } from './addon.js';
export { recoveryHint } from './recovery-hint.js';

export interface Damage {
  /** ISO time it was found. */
  at: string;
  detail: string;
}

interface Marker extends Damage {
  dev: number;
  ino: number;
}

export const damageMarker = (dbPath: string): string => `${dbPath}.damaged`;

/** The damage recorded for the file now at `dbPath`, or null (none, or a marker about an older file). */
export function readDamage(dbPath: string): Damage | null {
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(damageMarker(dbPath), 'utf8')) as Marker;
  } catch {
    return null;
  }
  const id = fileIdentity(dbPath);
  if (!id || id.dev !== marker.dev || id.ino !== marker.ino) return null;
  return { at: marker.at, detail: marker.detail };
}

export function recordDamage(dbPath: string, detail: string, now: number): Damage {
  const damage = { at: new Date(now).toISOString(), detail: detail.slice(0, 2000) };
  const id = fileIdentity(dbPath);
  if (!id) return damage;
  try {
    writeFileAtomicSync(damageMarker(dbPath), `${JSON.stringify({ ...damage, ...id })}\n`, 0o600);
  } catch {
    // A read-only state dir: this process still knows, and says so.
  }
  return damage;
}

/**
 * `PRAGMA quick_check` on a connection of its own: the engine's long-lived connection may hold
 * good copies of damaged pages in its cache. "ok", or what SQLite found (first lines).
 */
export function quickCheckFile(dbPath: string): string {
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true, ...sqliteAddon() });
    const rows = db.pragma('quick_check(20)', { simple: false }) as { quick_check: string }[];
    return rows.map((r) => r.quick_check).join('; ');
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return `${code}: ${(err as Error).message}`;
    throw err;
  } finally {
    db?.close();
  }
}
