import { afterAll, beforeAll } from 'vitest';

import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import type { StoreOptions } from '../../src/queue/store.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis.js';
import { runStoreConformance } from './store-conformance.js';
import { runTaskStoreConformance } from './task-store-conformance.js';
import { runWorkerTaskStoreConformance } from './worker-task-store-conformance.js';

// The same suite as the single server, on a real three-master Redis Cluster: every store its own
// key prefix, so its agents' slots spread over the masters.
let cluster: RedisCluster;
let n = 0;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
});

async function clusterFactory(opts: StoreOptions): Promise<{ store: RedisMessageStore; cleanup: () => Promise<void> }> {
  const store = await openRedisStore({ ...opts, url: cluster.urls[0]!, cluster: cluster.urls, prefix: `conformance-${process.pid}-${++n}` });
  return { store, cleanup: () => store.close() };
}

runStoreConformance('redis-cluster', clusterFactory);
runTaskStoreConformance('redis-cluster', clusterFactory);
runWorkerTaskStoreConformance('redis-cluster', clusterFactory);
