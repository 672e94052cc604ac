/**
 * The Redis store's hot-path scripts (src/queue/redis/scripts.ts): what they write is what the
 * generic path would (byte-exact `meta`, bodies cjson cannot decode still delivered), a re-sent
 * call is applied once, and concurrent callers of one store neither lose nor double a message.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

import type { Message } from '../../src/domain/message.js';
import { agentKeys, globalKeys } from '../../src/queue/redis/keys.js';
import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import { CLAIM_SCRIPT, encodeMessage, ENQUEUE_SCRIPT, enqueueScriptKeys, messageScriptKeys, SETTLE_SCRIPT } from '../../src/queue/redis/scripts.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const servers: RedisServer[] = [];
const stores: RedisMessageStore[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
  for (const s of servers.splice(0)) await s.destroy();
});

async function setup(prefix = 'p'): Promise<{ server: RedisServer; store: RedisMessageStore; raw: Redis }> {
  const server = await startRedisServer();
  servers.push(server);
  const store = await openRedisStore({ url: server.url, prefix });
  stores.push(store);
  await store.registerAgents([{ name: 'a', profile: 'shell' }]);
  const raw = new Redis(server.url);
  clients.push(raw);
  return { server, store, raw };
}

describe('what the scripts write', () => {
  it('meta and body stay byte-exact through enqueue, claim, ack and confirm (no cjson re-encoding)', async () => {
    const { store, raw } = await setup();
    const meta = { empty: [], nested: { list: [], obj: {}, deep: [[]] }, big: 2 ** 60, exact: 2 ** 53 + 2, frac: 0.1 + 0.2, tiny: -1.5e-7, text: 'é😀\u2028 "q" \\ /' };
    const body = 'quotes " \\ / and ,"meta":{"x":1} and "leaseToken":"x" inside, é😀\u2028';
    const { message } = await store.enqueue({ agent: 'a', body, key: 'k ,"meta": 1', sender: 's"', meta, ttlMs: 3_600_000 });
    const [leased] = await store.claim('a', { owner: 'own"er', leaseMs: 60_000, sessionId: 'sess' });
    expect(leased!.meta).toEqual(meta);
    expect(leased!.body).toBe(body);
    expect(await store.ack({ leaseToken: leased!.leaseToken! })).toBe(1);
    expect(await store.confirm('a', { sessionId: 'sess' })).toBe(1);
    const got = await store.get(message.id);
    expect(got).toMatchObject({ state: 'confirmed', body, key: 'k ,"meta": 1', sender: 's"', meta, sessionId: 'sess', attempts: 1, expiresAt: message.expiresAt });
    const stored = await raw.hget(agentKeys('p', 'a').msgs, message.id);
    expect(stored!.endsWith(`,"meta":${JSON.stringify(meta)}}`)).toBe(true);
    expect((await store.events({ messageId: message.id })).map((e) => [e.kind, e.fromState, e.toState])).toEqual([
      ['enqueued', null, 'queued'],
      ['claimed', 'queued', 'leased'],
      ['delivered', 'leased', 'delivered'],
      ['confirmed', 'delivered', 'confirmed'],
    ]);
  });

  it('every script that writes moves the fence the generic path commits against, and only then', async () => {
    const { store, raw } = await setup();
    const k = agentKeys('p', 'a');
    const fences = async () => (await raw.mget(k.ver, k.enqver)).map((v) => Number(v ?? 0));
    const [ver0 = 0, enq0 = 0] = await fences();
    await store.enqueueBatch([
      { agent: 'a', body: 'x' },
      { agent: 'a', body: 'y' },
    ]);
    expect(await fences()).toEqual([ver0, enq0 + 1]);
    const [m] = await store.claim('a', { owner: 'o', leaseMs: 60_000, sessionId: 's' });
    expect(await fences()).toEqual([ver0 + 1, enq0 + 1]);
    await store.release({ leaseToken: m!.leaseToken! });
    const [again] = await store.claim('a', { owner: 'o', leaseMs: 60_000, sessionId: 's' });
    await store.ack({ leaseToken: again!.leaseToken!, sessionId: 's' });
    await store.confirm('a', { sessionId: 's' });
    expect(await fences()).toEqual([ver0 + 5, enq0 + 1]);
    // Nothing to do: nothing written, no fence moved.
    expect(await store.ack({ leaseToken: again!.leaseToken! })).toBe(0);
    expect(await store.confirm('a')).toBe(0);
    await store.claim('a', { owner: 'o', leaseMs: 60_000, limit: 5 }); // takes 'y'
    expect(await store.claim('a', { owner: 'o', leaseMs: 60_000 })).toEqual([]);
    expect(await fences()).toEqual([ver0 + 6, enq0 + 1]);
  });

  it('a batch larger than one write chunk (2,500 messages, keys repeated) lands whole and in order', async () => {
    const { store } = await setup();
    const inputs = Array.from({ length: 2_500 }, (_, i) => ({ agent: 'a', body: `b${i}`, key: `k${i % 2_400}`, ...(i % 3 === 0 ? { ttlMs: 3_600_000 } : {}) }));
    const results = await store.enqueueBatch(inputs);
    expect(results.filter((r) => r.created)).toHaveLength(2_400);
    expect(results[2_450]!.message.id).toBe(results[50]!.message.id);
    const stats = await store.stats();
    expect(stats.totals.queued).toBe(2_400);
    const listed = await store.list({ agent: 'a', limit: 10_000 });
    expect(listed.map((m) => m.body)).toEqual(Array.from({ length: 2_400 }, (_, i) => `b${i}`));
    for (const r of [results[0]!, results[1_999]!, results[2_399]!]) expect(await store.get(r.message.id)).toEqual(r.message);
    expect(await store.enqueue({ agent: 'a', body: 'again', key: 'k2399' })).toMatchObject({ created: false, message: { id: results[2_399]!.message.id } });
  });

  it('a stored message whose meta is not its last field (another writer) is still claimed and acked whole', async () => {
    const { store, raw } = await setup();
    const meta = { list: [], n: 1 };
    const { message } = await store.enqueue({ agent: 'a', body: 'reordered', meta });
    const { meta: m, id, ...rest } = message;
    await raw.hset(agentKeys('p', 'a').msgs, message.id, JSON.stringify({ id, meta: m, ...rest }));
    const [leased] = await store.claim('a', { owner: 'o', leaseMs: 60_000 });
    expect(leased).toMatchObject({ id: message.id, state: 'leased', body: 'reordered', meta, attempts: 1 });
    expect(await store.ack({ leaseToken: leased!.leaseToken! })).toBe(1);
    expect(await store.get(message.id)).toMatchObject({ state: 'delivered', meta, leaseToken: null });
  });

  it('a body cjson cannot decode (a lone surrogate) is still claimed, released, claimed and acked', async () => {
    const { store } = await setup();
    const body = 'half a pair: \ud800 and the other half \udc00';
    const { message } = await store.enqueue({ agent: 'a', body });
    const [first] = await store.claim('a', { owner: 'o', leaseMs: 60_000 });
    expect(first).toMatchObject({ id: message.id, body, state: 'leased' });
    expect(await store.release({ leaseToken: first!.leaseToken! })).toBe(1);
    const [second] = await store.claim('a', { owner: 'o', leaseMs: 60_000 });
    expect(await store.ack({ leaseToken: second!.leaseToken! })).toBe(1);
    expect(await store.get(message.id)).toMatchObject({ state: 'delivered', body });
  });
});

describe('a re-sent script call (lost reply) is applied once', () => {
  const draft = (now: number): Omit<Message, 'id' | 'seq'> => ({
    agent: 'a',
    priority: 5,
    body: 'once',
    sender: null,
    key: null,
    state: 'queued',
    attempts: 0,
    maxAttempts: 5,
    availableAt: now,
    expiresAt: null,
    leaseToken: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    sessionId: null,
    deliveredAt: null,
    confirmedAt: null,
    redeliveries: 0,
    lastError: null,
    deadReason: null,
    createdAt: now,
    updatedAt: now,
    meta: null,
  });

  it('enqueue, claim and ack sent twice with the same marker answer the same and write once', async () => {
    const { store, raw } = await setup();
    const k = agentKeys('p', 'a');
    const now = Date.now();
    const ev = JSON.stringify({ ts: now, agent: 'a', kind: 'enqueued', from: null, to: 'queued', detail: null });
    const enqueue = (op: string) => {
      const keys = enqueueScriptKeys(k, globalKeys('p'), op);
      return raw.eval(ENQUEUE_SCRIPT, keys.length, ...keys, 'a', '1000', ev, String(now), '', 'abcd', '5', '', encodeMessage(draft(now))) as Promise<string>;
    };
    const first = await enqueue('e1');
    expect(await enqueue('e1')).toBe(first);
    expect(await store.list()).toHaveLength(1);
    await enqueue('e2'); // another call: another message
    expect(await store.list()).toHaveLength(2);

    const claim = (op: string) => {
      const keys = messageScriptKeys(k, op);
      const arg = { agent: 'a', now, until: now + 60_000, limit: 1, owner: 'o', ignorePause: false, token: `tok.${Buffer.from('a').toString('hex')}`, leaseMs: 60_000, page: 100 };
      return raw.eval(CLAIM_SCRIPT, keys.length, ...keys, JSON.stringify(arg)) as Promise<string>;
    };
    const claimed = await claim('c1');
    expect(JSON.parse(claimed)).toHaveLength(1);
    expect(await claim('c1')).toBe(claimed);
    expect((await store.stats()).totals).toMatchObject({ queued: 1, leased: 1 });

    const ack = (op: string) => {
      const keys = messageScriptKeys(k, op);
      return raw.eval(SETTLE_SCRIPT, keys.length, ...keys, JSON.stringify({ mode: 'ack', now, token: `tok.${Buffer.from('a').toString('hex')}` })) as Promise<string>;
    };
    expect(await ack('a1')).toBe('1');
    expect(await ack('a1')).toBe('1');
    // Without the marker, a repeat finds nothing left under the lease.
    expect(await ack('a2')).toBe('0');
    expect((await store.stats()).totals).toMatchObject({ queued: 1, leased: 0, delivered: 1 });
    expect(await raw.pttl(k.op('a1'))).toBeGreaterThan(0);
  });
});

describe('concurrent callers of one store', () => {
  it('enqueues issued together keep their call order; claims issued together lease each message once', async () => {
    const { store } = await setup();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.enqueue({ agent: 'a', body: `m${i}` })));
    const seqs = results.map((r) => r.message.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(200);

    const claims = await Promise.all(Array.from({ length: 250 }, () => store.claim('a', { owner: 'o', leaseMs: 60_000 })));
    const leased = claims.flat();
    expect(leased).toHaveLength(200);
    expect(new Set(leased.map((m) => m.id)).size).toBe(200);
    const acks = await Promise.all(leased.map((m) => store.ack({ leaseToken: m.leaseToken! })));
    expect(acks.every((n) => n === 1)).toBe(true);
    expect((await store.stats()).totals).toMatchObject({ queued: 0, leased: 0, delivered: 200 });
  });

  it('generic writes racing the scripts (cancel and retry against claim and ack) leave counters and indexes agreeing with the messages', async () => {
    const { server, store } = await setup();
    const other = await openRedisStore({ url: server.url, prefix: 'p' });
    stores.push(other);
    const ids = (await store.enqueueBatch(Array.from({ length: 60 }, (_, i) => ({ agent: 'a', body: `r${i}` })))).map((r) => r.message.id);
    const claimer = (async () => {
      for (let i = 0; i < 40; i++) {
        const got = await other.claim('a', { owner: 'o', leaseMs: 60_000, limit: 2 });
        if (got.length > 0) await other.ack({ leaseToken: got[0]!.leaseToken! });
      }
    })();
    const operator = (async () => {
      for (const id of ids.slice(0, 30)) {
        await store.cancel([id]).catch(() => undefined); // may already be delivered: still pending, so cancellable
        await store.retry([id]).catch(() => undefined);
      }
    })();
    await Promise.all([claimer, operator]);
    const all = await store.list({ limit: 1000 });
    expect(all).toHaveLength(60);
    const byState = new Map<string, number>();
    for (const m of all) byState.set(m.state, (byState.get(m.state) ?? 0) + 1);
    const { totals } = await store.stats();
    for (const [state, n] of Object.entries(totals)) expect(n, state).toBe(byState.get(state) ?? 0);
    // Every waiting message can still be claimed, every leased one acked: the indexes agree.
    const waiting = all.filter((m) => m.state === 'queued' || m.state === 'failed').length;
    expect(await other.claim('a', { owner: 'o', leaseMs: 60_000, limit: 1000 })).toHaveLength(waiting);
  });

  it('idempotency keys and the depth limit hold for concurrent enqueues of one store', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const store = await openRedisStore({ url: server.url, prefix: 'd', limits: { maxDepth: 30 } });
    stores.push(store);
    await store.registerAgents([{ name: 'a', profile: 'shell' }]);
    const keyed = await Promise.all(Array.from({ length: 40 }, (_, i) => store.enqueue({ agent: 'a', body: `k${i % 10}`, key: `k${i % 10}` })));
    expect(keyed.filter((r) => r.created)).toHaveLength(10);
    for (const r of keyed) expect(r.message.id).toBe(keyed.find((x) => x.message.key === r.message.key && x.created)!.message.id);
    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => store.enqueue({ agent: 'a', body: `f${i}` })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(20);
    expect(outcomes.filter((o) => o.status === 'rejected').every((o) => (o as PromiseRejectedResult).reason.code === 'queue_full')).toBe(true);
    // A batch that does not fit is refused whole.
    await store.cancel([keyed[0]!.message.id]);
    await expect(
      store.enqueueBatch([
        { agent: 'a', body: 'x' },
        { agent: 'a', body: 'y' },
      ]),
    ).rejects.toMatchObject({ code: 'queue_full', details: { pending: 30, limit: 30 } });
    expect((await store.stats()).totals.queued).toBe(29);
  });
});
