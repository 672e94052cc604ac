/**
 * Several processes on one Redis (DESIGN.md §3, issue 12): 4 enqueue while 4 claim+ack, all at
 * once, through the Redis store's compare-and-set commits. No process may see an error (a commit
 * that keeps losing would surface as QueueError 'busy'), every message is claimed exactly once,
 * and the counters and indexes agree with the messages afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { openRedisStore } from '../../src/queue/redis/redis-store.js';
import { killConcurrencyWorkers, runConcurrentWorkers } from '../helpers/concurrency-harness.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { redisSpec } from '../helpers/store-spec.js';

const ENQUEUERS = 4;
const CLAIMERS = 4;
const PER_ENQUEUER = 1_000;
const AGENTS = ['alpha', 'beta'];
const PREFIX = 'concurrency';

let server: RedisServer | undefined;

afterEach(async () => {
  await killConcurrencyWorkers();
  await server?.destroy();
  server = undefined;
});

describe('RedisMessageStore under concurrent processes', () => {
  it(`${ENQUEUERS} enqueuers and ${CLAIMERS} claimers on one Redis: no errors, each message claimed once`, { timeout: 120_000 }, async () => {
    server = await startRedisServer();
    const setup = await openRedisStore({ url: server.url, prefix: PREFIX });
    await setup.registerAgents(AGENTS.map((name) => ({ name, profile: 'shell' })));
    await setup.close();

    const spec = redisSpec(server.url, PREFIX);
    const { enqueued, claimed, claimedPerWorker, errors } = await runConcurrentWorkers(spec, { enqueuers: ENQUEUERS, claimers: CLAIMERS, perEnqueuer: PER_ENQUEUER, agents: AGENTS });

    expect(errors).toEqual([]);
    expect(enqueued).toHaveLength(ENQUEUERS * PER_ENQUEUER);
    expect(new Set(enqueued).size).toBe(enqueued.length);
    expect(claimed).toHaveLength(enqueued.length);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect([...claimed].sort()).toEqual([...enqueued].sort());
    expect(claimedPerWorker.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);

    const store = await openRedisStore({ url: server.url, prefix: PREFIX });
    try {
      const stats = await store.stats();
      expect(stats.totals.delivered).toBe(enqueued.length);
      expect(stats.totals.queued + stats.totals.leased + stats.totals.failed).toBe(0);
      for (const a of stats.agents) expect(a.pending).toBe(a.counts.delivered);
      // The counters agree with the messages themselves.
      const listed = await store.list({ limit: 100_000 });
      expect(listed).toHaveLength(enqueued.length);
      expect(listed.every((m) => m.state === 'delivered' && m.attempts === 1)).toBe(true);
      for (const id of enqueued.slice(0, 50)) expect((await store.get(id)).state).toBe('delivered');
    } finally {
      await store.close();
    }
  });
});
