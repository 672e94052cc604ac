/**
 * Hornets on a real Redis Cluster (issue 12), beyond the store conformance suite (which runs on one
 * too): connecting (typed refusals that never show the password), the node link's registry, leader
 * and bus over the production entry point, and what changes for a batch over several agents (one
 * atomic step per agent: a re-send with idempotency keys completes it without duplicates).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { DuplicateNodeError } from '../../src/cluster/errors.js';
import type { BusMessage } from '../../src/cluster/bus.js';
import { openNodeLink, type NodeLink } from '../../src/cluster/node-link.js';
import { connectRedis, RedisConnectError } from '../../src/queue/redis/connect.js';
import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import { globalKeys } from '../../src/queue/redis/keys.js';
import { freePort } from '../helpers/ports.js';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/tmux.js';

let cluster: RedisCluster;
let single: RedisServer;
const links: NodeLink[] = [];
const stores: RedisMessageStore[] = [];
const clients: Cluster[] = [];
let n = 0;

beforeAll(async () => {
  [cluster, single] = await Promise.all([startRedisCluster({ masters: 3 }), startRedisServer()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster?.destroy(), single?.destroy()]);
});
afterEach(async () => {
  for (const l of links.splice(0)) await l.close().catch(() => undefined);
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
});

async function link(prefix: string): Promise<NodeLink> {
  const l = await openNodeLink({ url: cluster.urls[0]!, cluster: cluster.urls, prefix });
  links.push(l);
  return l;
}

async function store(prefix = `rc${++n}`, on: 'cluster' | 'server' = 'cluster'): Promise<RedisMessageStore> {
  const s = await openRedisStore(on === 'cluster' ? { url: cluster.urls[0]!, cluster: cluster.urls, prefix } : { url: single.url, prefix });
  stores.push(s);
  await s.registerAgents(['alice', 'bob', 'carol'].map((name) => ({ name, profile: 'demo' })));
  return s;
}

function raw(): Cluster {
  const c = new Cluster(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

async function refusal(p: Promise<unknown>): Promise<RedisConnectError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RedisConnectError);
  return err as RedisConnectError;
}

describe('connecting to a Redis Cluster', () => {
  it('opens a Cluster client from any seed node; the keys of different agents spread over the masters', async () => {
    const c = await connectRedis({ url: cluster.urls[1]!, cluster: [cluster.urls[1]!] });
    try {
      expect(c.isCluster).toBe(true);
    } finally {
      c.disconnect();
    }
    const s = await store('spread');
    for (const agent of ['alice', 'bob', 'carol']) await s.enqueue({ agent, body: `to ${agent}` });
    // Each master holds only the keys of its slots: the store's keys are on more than one of them.
    const holding = await Promise.all(
      cluster.nodes.map(async (node) => {
        const one = new Redis(node.port, '127.0.0.1');
        try {
          return (await one.keys('hornets:{spread*')).length;
        } finally {
          one.disconnect();
        }
      }),
    );
    expect(holding.filter((k) => k > 0).length).toBeGreaterThan(1);
    expect((await s.list()).map((m) => m.body).sort()).toEqual(['to alice', 'to bob', 'to carol']);
  });

  it('unreachable seed nodes: a typed refusal naming them, without the password', async () => {
    const port = await freePort();
    const err = await refusal(connectRedis({ url: `redis://:sekret@127.0.0.1:${port}`, cluster: [`redis://:sekret@127.0.0.1:${port}`], connectTimeoutMs: 1_500 }));
    expect(['unreachable', 'timeout']).toContain(err.reason);
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).not.toContain('sekret');
  });

  it('bad node URLs are refused before connecting', async () => {
    expect((await refusal(connectRedis({ url: 'x', cluster: ['redis://127.0.0.1:1/2'] }))).reason).toBe('bad_url');
    const mixed = await refusal(connectRedis({ url: 'x', cluster: ['redis://:a@127.0.0.1:1', 'redis://:sekret@127.0.0.1:2'] }));
    expect(mixed.message).toContain('differ in credentials');
    expect(mixed.message).not.toContain('sekret');
  });
});

describe('the node link on a Redis Cluster', () => {
  it('registry: one live holder per name; leader: one of two candidates; bus: a wake by sharded pub/sub (counted) and a control by stream', async () => {
    const prefix = `link${++n}`;
    const a = await link(prefix);
    const b = await link(prefix);
    const info = { host: 'h', pid: 1, startedAt: 1, version: '0.1.0' };
    await a.registry.register('alpha', info);
    await expect(b.registry.register('alpha', { ...info, pid: 2 })).rejects.toBeInstanceOf(DuplicateNodeError);
    await b.registry.register('beta', { ...info, pid: 2 });
    expect((await a.registry.list()).map((r) => [r.name, r.state])).toEqual([
      ['alpha', 'up'],
      ['beta', 'up'],
    ]);

    const tokens: Record<string, number> = {};
    const campaign = (l: NodeLink, candidate: string) => l.campaign({ candidate, leaseMs: 5_000, renewMs: 1_000, retryMs: 50, onElected: (t) => (tokens[candidate] = t), onDemoted: () => undefined });
    campaign(a, 'alpha');
    await waitFor('alpha leads', () => tokens.alpha !== undefined, 5_000, 20);
    campaign(b, 'beta');
    await new Promise((r) => setTimeout(r, 300));
    expect(tokens.beta).toBeUndefined();
    expect(await b.leader()).toEqual({ node: 'alpha', token: tokens.alpha });

    const got: BusMessage[] = [];
    await b.bus.subscribe('beta', (m) => {
      got.push(m);
    });
    expect(await a.bus.wake('beta', 'marie')).toBe(1);
    expect(await a.bus.wake('gamma', 'marie')).toBe(0);
    await a.bus.control('beta', 'restart', 'marie');
    await waitFor('wake and control at beta', () => got.length === 2, 5_000, 20);
    expect(got.map((m) => m.kind).sort()).toEqual(['control', 'wake']);
  });
});

describe('the bus on a Redis Cluster', () => {
  it('a lost shard subscriber connection calls onReconnect (wakes may have been missed), and wakes arrive again', async () => {
    const prefix = `bus${++n}`;
    const a = await link(prefix);
    const b = await link(prefix);
    const got: BusMessage[] = [];
    let reconnects = 0;
    await b.bus.subscribe('beta', (m) => void got.push(m), { onReconnect: () => reconnects++ });
    expect(await a.bus.wake('beta', 'marie')).toBe(1);
    await waitFor('first wake', () => got.length === 1, 5_000, 20);
    // Cut the subscribers' connections on every master, as a network blip would.
    for (const node of cluster.nodes) {
      const one = new Redis(node.port, '127.0.0.1');
      try {
        await one.client('KILL', 'TYPE', 'pubsub');
      } finally {
        one.disconnect();
      }
    }
    await waitFor('onReconnect', () => reconnects > 0, 10_000, 20);
    await waitFor('wakes counted again', async () => (await a.bus.wake('beta', 'marie')) === 1, 10_000, 50);
    await waitFor('a wake after the reconnect', () => got.length >= 2, 5_000, 20);
  });
});

describe('the store on a Redis Cluster', () => {
  it('a batch over several agents is one step per agent: re-sent after only one step was written, keys complete it without duplicates', async () => {
    const s = await store();
    const batch = [
      { agent: 'alice', body: 'a1', key: 'k-a1' },
      { agent: 'bob', body: 'b1', key: 'k-b1' },
      { agent: 'alice', body: 'a2', key: 'k-a2' },
    ];
    // As if the sender died after alice's step: only her part is in.
    await s.enqueueBatch(batch.filter((x) => x.agent === 'alice'));
    const again = await s.enqueueBatch(batch);
    expect(again.map((r) => r.created)).toEqual([false, true, false]);
    expect((await s.stats()).totals.queued).toBe(3);
  });

  it('ids taken for messages never written are not left in the id index', async () => {
    const prefix = `rc${++n}`;
    const s = await store(prefix);
    const first = await s.enqueue({ agent: 'alice', body: 'once', key: 'k' });
    expect((await s.enqueue({ agent: 'alice', body: 'once', key: 'k' })).created).toBe(false);
    await expect(s.enqueue({ agent: 'ghost', body: 'nobody' })).rejects.toMatchObject({ code: 'unknown_agent' });
    const g = globalKeys(prefix);
    expect(await raw().zrange(g.idlex, 0, -1)).toEqual([first.message.id]);
    expect(await raw().hkeys(g.ids)).toEqual([first.message.id]);
  });

  it('a batch naming an unknown agent or overflowing one queue writes nothing for any agent', async () => {
    const s = await openRedisStore({ url: cluster.urls[0]!, cluster: cluster.urls, prefix: `rc${++n}`, limits: { maxDepth: 1 } });
    stores.push(s);
    await s.registerAgents(['alice', 'bob'].map((name) => ({ name, profile: 'demo' })));
    await expect(
      s.enqueueBatch([
        { agent: 'alice', body: 'a' },
        { agent: 'bob', body: 'b1' },
        { agent: 'bob', body: 'b2' },
      ]),
    ).rejects.toMatchObject({ code: 'queue_full' });
    await expect(
      s.enqueueBatch([
        { agent: 'alice', body: 'a' },
        { agent: 'ghost', body: 'g' },
      ]),
    ).rejects.toMatchObject({ code: 'unknown_agent' });
    expect((await s.stats()).totals.queued).toBe(0);
  });
});

// The conformance suite's cancel, retry and import name one agent; over several agents a Cluster runs
// one step per agent, and what one server refuses whole must still be refused whole.
describe.each(['server', 'cluster'] as const)('operations over several agents (%s)', (on) => {
  it('cancel and retry over three agents; a cancel naming a finished message changes none of them', async () => {
    const s = await store(`multi${++n}`, on);
    const sent = await s.enqueueBatch(['alice', 'bob', 'carol', 'alice'].map((agent, i) => ({ agent, body: `m${i}` })));
    const ids = sent.map((r) => r.message.id);
    const cancelled = await s.cancel([ids[0]!, ids[1]!, ids[2]!]);
    expect(cancelled.map((m) => [m.id, m.state])).toEqual([ids[0], ids[1], ids[2]].map((id) => [id, 'cancelled']));
    await expect(s.cancel([ids[3]!, ids[1]!])).rejects.toMatchObject({ code: 'invalid_state' });
    expect((await s.get(ids[3]!)).state).toBe('queued');
    const retried = await s.retry([ids[2]!, ids[0]!, ids[1]!]);
    expect(retried.map((m) => [m.id, m.state])).toEqual([ids[2], ids[0], ids[1]].map((id) => [id, 'queued']));
    expect((await s.stats()).totals.queued).toBe(4);
  });

  it('import over several agents: all in, or (a record for an unknown agent) none unless partial', async () => {
    const source = await store(`src${++n}`, on);
    await source.enqueueBatch(['alice', 'bob', 'carol'].map((agent) => ({ agent, body: `for ${agent}`, key: `k-${agent}` })));
    const records = (await source.exportPending()).map((message, i) => ({ line: i + 1, message }));
    const ghost = { line: 9, message: { ...records[0]!.message, id: `${records[0]!.message.id}-g`, agent: 'ghost', key: null } };

    const refused = await store(`dst${++n}`, on);
    const r = await refused.importMessages([...records, ghost]);
    expect(r.imported).toBe(0);
    expect(r.rejected.map((x) => x.line)).toEqual([9]);
    expect(await refused.list()).toEqual([]);

    const target = await store(`dst${++n}`, on);
    expect((await target.importMessages(records)).imported).toBe(3);
    const again = await target.importMessages(records);
    expect(again.imported).toBe(0);
    expect(again.skipped.map((x) => x.line)).toEqual([1, 2, 3]);
    expect((await target.exportPending()).map((m) => m.body)).toEqual(['for alice', 'for bob', 'for carol']);
  });
});
