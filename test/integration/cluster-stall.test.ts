/**
 * A redis-server that stalls (an AOF fsync on a slow disk; here DEBUG SLEEP) answers nobody for a
 * while and then every queued heartbeat at once. That must not make live nodes lost — neither in
 * the registry's view nor in their own — while a node that really stopped is still shown lost.
 */
import { type Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/keys.js';
import { NodeRegistry, type NodeInfo, type NodeLostEvent, type NodeRecord } from '../../src/cluster/node-registry.js';
import { startRedisServer, testClient, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/tmux.js';

// The defaults (2 s / 6 s) scaled down by two: a stall longer than lostAfterMs - heartbeatMs.
const HEARTBEAT_MS = 1000;
const LOST_AFTER_MS = 3000;
const STALL_MS = 3300;

let server: RedisServer;
const clients: Redis[] = [];
const registries: NodeRegistry[] = [];

beforeAll(async () => {
  server = await startRedisServer({ args: ['--enable-debug-command', 'yes'] });
}, 30_000);
afterAll(async () => {
  await server?.destroy();
});
afterEach(async () => {
  for (const r of registries.splice(0)) await r.unregister().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
});

function client(): Redis {
  const c = testClient({ server });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

function registry(project: string, redis: Redis, onLost?: (e: NodeLostEvent) => void): NodeRegistry {
  const r = new NodeRegistry({ redis, keys: clusterKeys(project), heartbeatMs: HEARTBEAT_MS, lostAfterMs: LOST_AFTER_MS, onLost });
  registries.push(r);
  return r;
}

const info = (host: string): NodeInfo => ({ host, pid: 1, startedAt: 1_700_000_000_000, version: '0.1.0' });

/** Lists every `everyMs` until stopped, recording each node state ever seen. */
function watchStates(r: NodeRegistry, everyMs = 100): { seen: Map<string, Set<NodeRecord['state']>>; stop: () => Promise<void> } {
  const seen = new Map<string, Set<NodeRecord['state']>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const n of await r.list().catch(() => [])) {
        const s = seen.get(n.name) ?? new Set();
        s.add(n.state);
        seen.set(n.name, s);
      }
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('a Redis stall longer than lostAfterMs - heartbeatMs', () => {
  it('keeps live nodes up (in the registry and in their own view); a node that really stopped is still lost', async () => {
    const lost: NodeLostEvent[] = [];
    const a = registry('stall1', client(), (e) => lost.push(e));
    const bConn = client();
    const b = registry('stall1', bConn, (e) => lost.push(e));
    await a.register('alpha', info('host-a'));
    await b.register('beta', info('host-b'));
    const observer = registry('stall1', client());
    const watch = watchStates(observer);
    // A few beats first, so the stall starts anywhere in a heartbeat period.
    await new Promise((r) => setTimeout(r, 2.5 * HEARTBEAT_MS));

    await client().call('DEBUG', 'SLEEP', String(STALL_MS / 1000));
    // Time for every queued heartbeat to be answered, and a few periods more.
    await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
    await watch.stop();

    expect(lost).toEqual([]);
    expect(a.registeredName()).toBe('alpha');
    expect(b.registeredName()).toBe('beta');
    expect([...(watch.seen.get('alpha') ?? [])]).toEqual(['up']);
    expect([...(watch.seen.get('beta') ?? [])]).toEqual(['up']);

    // The control: beta's heartbeats stop for real while alpha's go on: beta is shown lost in time.
    const cutAt = Date.now();
    bConn.disconnect();
    await waitFor('beta shown lost', async () => (await observer.list()).find((n) => n.name === 'beta' && n.state === 'lost'), 3 * LOST_AFTER_MS);
    expect(Date.now() - cutAt).toBeLessThan(LOST_AFTER_MS + 2 * HEARTBEAT_MS);
    expect((await observer.list()).find((n) => n.name === 'alpha')?.state).toBe('up');
  }, 60_000);
});
