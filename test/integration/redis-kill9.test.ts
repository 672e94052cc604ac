/**
 * The kill -9 harness (test/bench/kill9.ts) on the Redis store: producer and consumers SIGKILLed
 * at random under load lose no accepted message, every message's state agrees with its event
 * log, and the store's counters agree with its messages. `npm run bench:kill9 -- --redis <url>`
 * runs the long one.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { formatKill9, runKill9 } from '../bench/kill9.js';
import { compiledPath } from '../helpers/compiled.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const KILLS = 30;
// Only a guard against a hung run: each kill waits for a worker that reached the store, so the
// kill phase takes about one worker start per kill (under 1 s alone, 1.5-5 s at load 11-18).
const KILL_PHASE_CAP_S = 60;

let abort: AbortController | undefined;
let server: RedisServer | undefined;
afterEach(async () => {
  abort?.abort();
  abort = undefined;
  await server?.destroy();
  server = undefined;
});

describe('kill -9 fault injection on Redis', () => {
  it(`survives ${KILLS} SIGKILLs of producer and consumers`, { timeout: 120_000 }, async () => {
    compiledPath('test/bench/kill9-worker.ts');
    server = await startRedisServer();
    abort = new AbortController();
    const result = await runKill9({ kills: KILLS, seconds: KILL_PHASE_CAP_S, consumers: 3, minGapMs: 30, maxGapMs: 400, signal: abort.signal, redisUrl: server.url });
    const report = [...formatKill9(result), ...result.violations.slice(0, 30)].join('\n');

    expect(result.violations, report).toEqual([]);
    expect(result.complete, report).toBe(true);
    expect(result.kills).toBeGreaterThanOrEqual(KILLS);
    expect(result.counts.lost).toBe(0);
    expect(result.integrity).toEqual({ beforeDrain: 'ok', afterDrain: 'ok' });
    expect(result.counts.accepted).toBeGreaterThan(20);
    expect(result.counts.confirmedByConsumers).toBeGreaterThan(0);
    expect(result.counts.leaseExpiries + result.counts.leasesReclaimedInDrain).toBeGreaterThan(0);
    expect(result.killsByRole.producer).toBeGreaterThan(0);
    expect(result.killsByRole.consumer).toBeGreaterThan(0);
  });
});
