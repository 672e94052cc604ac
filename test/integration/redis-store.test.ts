/**
 * What the conformance suite cannot say about the Redis store: opening fails fast with a typed
 * error that never shows the password, a server lost after opening fails calls instead of hanging
 * them, the commit script writes all or nothing, and the keys follow the documented layout.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

import { QueueError } from '../../src/errors.js';
import { COMMIT_SCRIPT, Tx } from '../../src/queue/redis/commit.js';
import { openRedisStore, RedisConnectError, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import { freePort } from '../helpers/ports.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const servers: RedisServer[] = [];
const stores: RedisMessageStore[] = [];
const clients: Redis[] = [];
let silent: { server: Server; sockets: Socket[] } | undefined;

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
  for (const s of servers.splice(0)) await s.destroy();
  if (silent) {
    for (const s of silent.sockets) s.destroy();
    await new Promise((r) => silent!.server.close(r));
    silent = undefined;
  }
});

async function server(options: Parameters<typeof startRedisServer>[0] = {}): Promise<RedisServer> {
  const s = await startRedisServer(options);
  servers.push(s);
  return s;
}

async function refusal(p: Promise<unknown>): Promise<RedisConnectError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RedisConnectError);
  expect(err).toBeInstanceOf(QueueError);
  return err as RedisConnectError;
}

describe('openRedisStore refuses clearly and quickly', () => {
  it('a malformed URL or another scheme: bad_url', async () => {
    expect((await refusal(openRedisStore({ url: 'http://127.0.0.1:6379', prefix: 'p' }))).reason).toBe('bad_url');
    expect((await refusal(openRedisStore({ url: 'not a url', prefix: 'p' }))).reason).toBe('bad_url');
    expect((await refusal(openRedisStore({ url: 'redis://127.0.0.1:6379/abc', prefix: 'p' }))).reason).toBe('bad_url');
  });

  it('a prefix that could break the key layout is refused', async () => {
    await expect(openRedisStore({ url: 'redis://127.0.0.1:1', prefix: 'a}b' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(openRedisStore({ url: 'redis://127.0.0.1:1', prefix: '' })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('nothing listening: unreachable, naming host and port', async () => {
    const port = await freePort();
    const err = await refusal(openRedisStore({ url: `redis://:secret-pw@127.0.0.1:${port}`, prefix: 'p', connectTimeoutMs: 2_000 }));
    expect(err.reason).toBe('unreachable');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).not.toContain('secret-pw');
    expect(JSON.stringify(err.details)).not.toContain('secret-pw');
  });

  it('a wrong password, or none where one is required: auth, without the password', async () => {
    const s = await server({ password: 'right-one' });
    const wrong = await refusal(openRedisStore({ url: `redis://:wrong-one@127.0.0.1:${s.port}`, prefix: 'p' }));
    expect(wrong.reason).toBe('auth');
    expect(wrong.message).toMatch(/wrong password/);
    expect(wrong.message).not.toContain('wrong-one');
    expect(JSON.stringify(wrong.details)).not.toContain('wrong-one');
    const none = await refusal(openRedisStore({ url: `redis://127.0.0.1:${s.port}`, prefix: 'p' }));
    expect(none.reason).toBe('auth');
    expect(none.message).toMatch(/password is required/);
    const right = await openRedisStore({ url: s.url, prefix: 'p' });
    stores.push(right);
    await right.registerAgents([{ name: 'a', profile: 'shell' }]);
    expect((await right.listAgents()).map((a) => a.name)).toEqual(['a']);
  });

  it('a server that accepts but never answers: timeout after connectTimeoutMs', async () => {
    const sockets: Socket[] = [];
    const srv = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    silent = { server: srv, sockets };
    const port = (srv.address() as AddressInfo).port;
    const started = Date.now();
    const err = await refusal(openRedisStore({ url: `redis://127.0.0.1:${port}`, prefix: 'p', connectTimeoutMs: 300 }));
    expect(['timeout', 'unreachable']).toContain(err.reason);
    // Bounded: well under the 5 s default, nowhere near a hang.
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('a server lost after opening: calls reject with io instead of hanging', async () => {
    const s = await server();
    const store = await openRedisStore({ url: s.url, prefix: 'p' });
    stores.push(store);
    await store.registerAgents([{ name: 'a', profile: 'shell' }]);
    await s.kill9();
    await expect(store.enqueue({ agent: 'a', body: 'x' })).rejects.toMatchObject({ code: 'io' });
    await expect(store.list()).rejects.toMatchObject({ code: 'io' });
  });
});

describe('after opening', () => {
  it('a restarted server is used again once the connection is back (scripts loaded anew)', async () => {
    const s = await server();
    const store = await openRedisStore({ url: s.url, prefix: 'p' });
    stores.push(store);
    await store.registerAgents([{ name: 'a', profile: 'shell' }]);
    await s.kill9();
    await expect(store.enqueue({ agent: 'a', body: 'lost server' })).rejects.toMatchObject({ code: 'io' });
    await s.start();
    // Reconnects with a capped backoff; calls fail fast (io) until then, never queue up.
    let registered = false;
    for (let i = 0; i < 100 && !registered; i++) {
      registered = await store.registerAgents([{ name: 'a', profile: 'shell' }]).then(
        () => true,
        () => false,
      );
      if (!registered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(registered).toBe(true);
    const m = await store.enqueue({ agent: 'a', body: 'back again' });
    expect((await store.claim('a', { owner: 'o', leaseMs: 1_000 })).map((x) => x.id)).toEqual([m.message.id]);
  });

  it('dataVersion moves with every commit and only then', async () => {
    const s = await server();
    const store = await openRedisStore({ url: s.url, prefix: 'p' });
    stores.push(store);
    await store.registerAgents([{ name: 'a', profile: 'shell' }]);
    const v1 = await store.dataVersion();
    await store.list();
    await store.stats();
    expect(await store.dataVersion()).toBe(v1);
    await store.enqueue({ agent: 'a', body: 'x' });
    const v2 = await store.dataVersion();
    expect(v2).not.toBe(v1);
    // Another connection's commit shows too.
    const other = await openRedisStore({ url: s.url, prefix: 'p' });
    stores.push(other);
    await other.claim('a', { owner: 'o', leaseMs: 1_000 });
    expect(await store.dataVersion()).not.toBe(v2);
  });
});

describe('commit script', () => {
  async function client(): Promise<Redis> {
    const s = await server();
    const c = new Redis(s.url);
    clients.push(c);
    return c;
  }

  const commit = (c: Redis, tx: Tx) => c.eval(COMMIT_SCRIPT, tx.keys.length, ...tx.keys, tx.payload()) as Promise<number>;

  it('writes everything and bumps the versions when they match', async () => {
    const c = await client();
    const tx = new Tx().check('{a}ver', null).op('SET', '{a}x', 1).op('ZADD', '{a}z', 5, 'm').op('RPUSH', '{a}l', 'e');
    expect(await commit(c, tx)).toBe(1);
    expect(await c.get('{a}ver')).toBe('1');
    expect(await c.get('{a}x')).toBe('1');
    expect(await c.zscore('{a}z', 'm')).toBe('5');
  });

  it('writes nothing when a version moved', async () => {
    const c = await client();
    await c.set('{a}ver', '3');
    const tx = new Tx().check('{a}ver', '2').op('SET', '{a}x', 1);
    expect(await commit(c, tx)).toBe(0);
    expect(await c.get('{a}x')).toBeNull();
    expect(await c.get('{a}ver')).toBe('3');
  });

  it('the same marked commit sent again (a re-send after a lost reply) answers 2 and writes nothing more', async () => {
    const c = await client();
    const tx = new Tx().check('{a}:ver', null).op('RPUSH', '{a}:l', 'e').markOnce('op1');
    expect(await commit(c, tx)).toBe(1);
    expect(await commit(c, tx)).toBe(2);
    expect(await c.lrange('{a}:l', 0, -1)).toEqual(['e']);
    expect(await c.get('{a}:ver')).toBe('1');
    expect(await c.pttl('{a}:op:op1')).toBeGreaterThan(0);
    // an unmarked repeat fails its version check instead
    const plain = new Tx().check('{a}:ver', null).op('RPUSH', '{a}:l', 'e');
    expect(await commit(c, plain)).toBe(0);
  });

  it('writes nothing when any command is not allowed, even after allowed ones', async () => {
    const c = await client();
    const tx = new Tx().check('{a}ver', null).op('SET', '{a}x', 1);
    (tx as unknown as { ops: unknown[][] }).ops.push(['FLUSHALL', 1]);
    await expect(commit(c, tx)).rejects.toThrow(/not allowed/);
    expect(await c.get('{a}x')).toBeNull();
    expect(await c.get('{a}ver')).toBeNull();
  });
});

describe('key layout', () => {
  it('every key sits under its project; each agent under its own hash tag', async () => {
    const s = await server();
    const a = await openRedisStore({ url: s.url, prefix: 'proj-a' });
    const b = await openRedisStore({ url: s.url, prefix: 'proj-b' });
    stores.push(a, b);
    await a.registerAgents([
      { name: 'alice', profile: 'shell' },
      { name: 'bob', profile: 'shell' },
    ]);
    await b.registerAgents([{ name: 'alice', profile: 'shell' }]);
    const m = await a.enqueue({ agent: 'alice', body: 'hello', key: 'k1', ttlMs: 60_000 });
    const [c] = await a.claim('alice', { owner: 'o', leaseMs: 1_000 });
    await a.ack({ leaseToken: c!.leaseToken! });
    await a.createTask({ taskId: 't', agent: 'bob', description: 'd', priority: 5, timeoutMs: 1_000, maxRetries: 0 });

    const c2 = new Redis(s.url);
    clients.push(c2);
    const keys = await c2.keys('*');
    expect(keys.length).toBeGreaterThan(5);
    for (const k of keys) expect(k).toMatch(/^hornets:\{proj-[ab](:(alice|bob))?\}:/);
    expect(keys.filter((k) => k.startsWith('hornets:{proj-a:alice}:')).length).toBeGreaterThan(3);
    // The other project sees none of it.
    expect(await b.list()).toEqual([]);
    await expect(b.get(m.message.id)).rejects.toMatchObject({ code: 'not_found' });
    expect(await b.getTask('t')).toBeNull();
  });
});

describe('claim order beyond the first page of waiting messages', () => {
  it('messages waiting for their backoff at the head of the queue do not hide the ones behind them', async () => {
    const s = await server();
    let now = 1_000_000;
    const store = await openRedisStore({ url: s.url, prefix: 'paging', clock: () => now, random: () => 0.5 });
    stores.push(store);
    await store.registerAgents([{ name: 'a', profile: 'shell' }]);
    // 250 high-priority messages, all failed once (in backoff), ahead of one low-priority message.
    await store.enqueueBatch(Array.from({ length: 250 }, (_, i) => ({ agent: 'a', body: `high ${i}`, priority: 100 })));
    const low = await store.enqueue({ agent: 'a', body: 'low', priority: 1 });
    const leased = await store.claim('a', { owner: 'o', leaseMs: 60_000, limit: 250 });
    expect(leased).toHaveLength(250);
    expect(await store.fail({ leaseToken: leased[0]!.leaseToken!, error: 'transient' })).toBe(250);
    now += 1;
    const next = await store.claim('a', { owner: 'o', leaseMs: 60_000, limit: 2 });
    expect(next.map((m) => m.id)).toEqual([low.message.id]);
    // Once the backoff is over they come first again, in order.
    now += 3_600_000;
    const after = await store.claim('a', { owner: 'o', leaseMs: 60_000, limit: 3 });
    expect(after.map((m) => m.body)).toEqual(['high 0', 'high 1', 'high 2']);
  });
});

describe('two connections at once (two hosts)', () => {
  async function pair(limits?: { maxDepth: number }): Promise<[RedisMessageStore, RedisMessageStore]> {
    const s = await server();
    const a = await openRedisStore({ url: s.url, prefix: 'pair', ...(limits ? { limits } : {}) });
    const b = await openRedisStore({ url: s.url, prefix: 'pair', ...(limits ? { limits } : {}) });
    stores.push(a, b);
    await a.registerAgents([{ name: 'x', profile: 'shell' }]);
    return [a, b];
  }

  it('the same idempotency keys from both: one message per key', async () => {
    const [a, b] = await pair();
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    const results = await Promise.all([a, b].flatMap((st) => keys.flatMap((key) => [st.enqueue({ agent: 'x', body: key, key }), st.enqueue({ agent: 'x', body: key, key })])));
    expect(results.filter((r) => r.created)).toHaveLength(10);
    for (const key of keys) expect(new Set(results.filter((r) => r.message.key === key).map((r) => r.message.id)).size).toBe(1);
    expect(await a.list({ limit: 100 })).toHaveLength(10);
  });

  it('the depth limit holds exactly when both fill the same queue', async () => {
    const [a, b] = await pair({ maxDepth: 20 });
    const outcomes = await Promise.allSettled([a, b].flatMap((st, s) => Array.from({ length: 30 }, (_, i) => st.enqueue({ agent: 'x', body: `${s}-${i}` }))));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(20);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused).toHaveLength(40);
    expect(refused.every((o) => (o.reason as QueueError).code === 'queue_full')).toBe(true);
    expect((await a.stats()).totals.queued).toBe(20);
  });

  it('claims from both while both enqueue: each message leased once', async () => {
    const [a, b] = await pair();
    const enqueued = Promise.all([a, b].flatMap((st, s) => Array.from({ length: 60 }, (_, i) => st.enqueue({ agent: 'x', body: `${s}-${i}` }))));
    const claimed: string[] = [];
    const claimer = async (st: RedisMessageStore) => {
      for (let empty = 0; empty < 20;) {
        const got = await st.claim('x', { owner: 'o', leaseMs: 60_000, limit: 3 });
        if (got.length === 0) empty++;
        claimed.push(...got.map((m) => m.id));
      }
    };
    await Promise.all([enqueued, claimer(a), claimer(b)]);
    for (const m of await a.claim('x', { owner: 'o', leaseMs: 60_000, limit: 1000 })) claimed.push(m.id);
    expect(claimed).toHaveLength(120);
    expect(new Set(claimed).size).toBe(120);
  });
});
