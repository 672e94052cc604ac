/**
 * The store a project's queue lives in, recorded once in <state>/store.json and checked by every
 * process that opens the project. Store selection comes from hornets.json and the environment
 * (config/store-selection.ts), and the environment differs between shells: without this record a
 * `send` from a shell lacking REDIS_URL would queue into SQLite while the engine reads Redis, and the
 * message would never be seen. The record holds no password.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreMismatchError } from '../errors.js';
import { redactRedisUrl, type StoreSelection } from './store-selection.js';
import { createWholeExclusive } from '../util/private-files.js';

export interface StoreRecord {
  kind: 'sqlite' | 'redis';
  /** Redis only: the URL without its password (a Redis Cluster: its first seed node). */
  url?: string;
  /** Redis Cluster only: the seed nodes without passwords. */
  cluster?: string[];
  prefix?: string;
  recordedAt?: string;
}

export function storeRecordFile(stateDir: string): string {
  return join(stateDir, 'store.json');
}

/** The recorded store; a project from before the record existed with a database is SQLite; none: null. */
export function readStoreRecord(stateDir: string, sqlitePath: string): StoreRecord | null {
  try {
    const r = JSON.parse(readFileSync(storeRecordFile(stateDir), 'utf8')) as StoreRecord;
    if (r.kind === 'sqlite' || r.kind === 'redis') return r;
  } catch {
    // missing or unreadable: judged below
  }
  return existsSync(sqlitePath) ? { kind: 'sqlite' } : null;
}

/** Same server (host, port, database; not the password), or the same cluster seed nodes, and prefix. */
function identity(r: StoreRecord): string {
  if (r.kind === 'sqlite') return 'sqlite';
  if (r.cluster) {
    const nodes = r.cluster.map((n) => {
      try {
        const u = new URL(n);
        return `${u.hostname}:${u.port || '6379'}`;
      } catch {
        return n;
      }
    });
    return `redis-cluster ${[...new Set(nodes)].sort().join(',')} ${r.prefix ?? ''}`;
  }
  try {
    const u = new URL(r.url ?? '');
    return `redis ${u.hostname}:${u.port || '6379'}/${u.pathname.replace(/^\//, '') || '0'} ${r.prefix ?? ''}`;
  } catch {
    return `redis ${r.url ?? ''} ${r.prefix ?? ''}`;
  }
}

function recordOf(s: StoreSelection): StoreRecord {
  if (s.kind === 'sqlite') return { kind: 'sqlite' };
  return { kind: 'redis', url: redactRedisUrl(s.url), ...(s.cluster ? { cluster: s.cluster.map(redactRedisUrl) } : {}), prefix: s.prefix };
}

function describe(r: StoreRecord): string {
  if (r.kind === 'sqlite') return 'SQLite (.hornets/hornets.db)';
  return r.cluster ? `Redis Cluster ${r.cluster.join(', ')} (prefix ${r.prefix ?? ''})` : `Redis ${r.url ?? ''} (prefix ${r.prefix ?? ''})`;
}

/**
 * Throws StoreMismatchError when this process's store is not the recorded one. Writes nothing:
 * the store is recorded by recordStore once it has opened (a wrong address must not be recorded).
 */
export function checkStoreRecord(stateDir: string, sqlitePath: string, selection: StoreSelection): void {
  const mine = recordOf(selection);
  const recorded = readStoreRecord(stateDir, sqlitePath);
  if (!recorded || identity(recorded) === identity(mine)) return;
  const source = selection.kind === 'redis' ? ` (from ${selection.source})` : ' (no store in hornets.json or REDIS_URL/REDIS_HOST/REDIS_CLUSTER_NODES in the environment)';
  throw new StoreMismatchError(
    `this project's queue is in ${describe(recorded)}, recorded in ${storeRecordFile(stateDir)}, but this command resolved ${describe(mine)}${source}. ` +
      'Every process of a project must use the same store, or messages are split between two queues. ' +
      'Set the same store for this command; or, to move the queue, run `hornets-tui queue export` with the old store, remove the record, then `hornets-tui queue import` with the new one (README: "Moving between stores").',
  );
}

/**
 * Records the store after it opened, when there is no record yet (created whole, so two first opens
 * agree on one), then checks again: a process that lost that race to another store is refused.
 */
export function recordStore(stateDir: string, sqlitePath: string, selection: StoreSelection): void {
  if (!existsSync(storeRecordFile(stateDir))) {
    createWholeExclusive(storeRecordFile(stateDir), `${JSON.stringify({ ...recordOf(selection), recordedAt: new Date().toISOString() }, null, 2)}\n`, 0o600);
  }
  checkStoreRecord(stateDir, sqlitePath, selection);
}
