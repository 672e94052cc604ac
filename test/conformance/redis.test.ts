import { afterAll, beforeAll } from 'vitest';

import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import type { StoreOptions } from '../../src/queue/store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { runStoreConformance } from './store-conformance.js';
import { runTaskStoreConformance } from './task-store-conformance.js';
import { runWorkerTaskStoreConformance } from './worker-task-store-conformance.js';

// One real redis-server for the file; every store gets its own key prefix, so tests never see
// each other's keys.
let server: RedisServer;
let n = 0;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.destroy();
});

async function redisFactory(opts: StoreOptions): Promise<{ store: RedisMessageStore; cleanup: () => Promise<void> }> {
  const store = await openRedisStore({ ...opts, url: server.url, prefix: `conformance-${process.pid}-${++n}` });
  return { store, cleanup: () => store.close() };
}

runStoreConformance('redis', redisFactory);
runTaskStoreConformance('redis', redisFactory);
runWorkerTaskStoreConformance('redis', redisFactory);
