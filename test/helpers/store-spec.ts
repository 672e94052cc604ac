/**
 * Worker processes of the multi-process tests name their store in one argument: a SQLite file
 * path, or `redis://host:port#<prefix>` for the Redis store. Each backend is loaded only when used.
 */
import type { MessageStore, StoreOptions, TaskStore } from '../../src/queue/store.js';

export function redisSpec(url: string, prefix: string): string {
  return `${url}#${prefix}`;
}

export function isRedisSpec(spec: string): boolean {
  return spec.startsWith('redis://');
}

export async function openStoreSpec(spec: string, options: StoreOptions = {}): Promise<MessageStore & TaskStore> {
  if (isRedisSpec(spec)) {
    const hash = spec.indexOf('#');
    if (hash < 0) throw new Error(`Redis store spec ${spec} has no #prefix`);
    const { openRedisStore } = await import('../../src/queue/redis/redis-store.js');
    return openRedisStore({ ...options, url: spec.slice(0, hash), prefix: spec.slice(hash + 1) });
  }
  const { openSqliteStore } = await import('../../src/queue/sqlite/sqlite-store.js');
  return openSqliteStore(spec, options);
}
