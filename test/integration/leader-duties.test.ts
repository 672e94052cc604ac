/**
 * Cluster-wide duties fenced by the leader's token (issue 12), on a real redis-server: the store's
 * sweep and prune run with the leader's fencing token and are refused, writing nothing, once another
 * candidate was elected (a deposed leader: paused process, lost lease); the current leader's run
 * goes through. The election is the real one; the lease is stolen by deleting it.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/keys.js';
import { LeaderElection } from '../../src/cluster/leader.js';
import { QueueError } from '../../src/errors.js';
import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/tmux.js';

let server: RedisServer;
const clients: Redis[] = [];
const elections: LeaderElection[] = [];
const stores: RedisMessageStore[] = [];
let n = 0;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.destroy();
});
afterEach(async () => {
  for (const e of elections.splice(0)) await e.stop().catch(() => undefined);
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
});

function client(): Redis {
  const c = new Redis(server.url, { maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

async function setup() {
  const project = `duties${++n}`;
  const keys = clusterKeys(project);
  let now = 1_000_000;
  const store = await openRedisStore({ url: server.url, prefix: project, clock: () => now });
  stores.push(store);
  await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
  const elect = (candidate: string) => {
    let token: number | null = null;
    const e = new LeaderElection({ redis: client(), keys, duty: 'leader', candidate, leaseMs: 60_000, retryMs: 50, onElected: (t) => (token = t) });
    elections.push(e);
    e.start();
    return { e, token: () => token };
  };
  return { keys, store, elect, advance: (ms: number) => (now += ms), fence: (token: number) => ({ key: keys.fence('leader'), token }) };
}

async function staleFence(p: Promise<unknown>): Promise<QueueError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(QueueError);
  expect((err as QueueError).code).toBe('stale_fence');
  return err as QueueError;
}

describe('cluster-wide duties fenced by the leader token', () => {
  it("a deposed leader's sweep is refused and changes nothing; the new leader's sweep reclaims the lease", async () => {
    const { keys, store, elect, advance, fence } = await setup();
    const sent = await store.enqueue({ agent: 'marie', body: 'hello' });
    const [leased] = await store.claim('marie', { owner: 'hook:test', leaseMs: 1000 });
    expect(leased!.id).toBe(sent.message.id);

    const alpha = elect('alpha');
    await waitFor('alpha elected', () => alpha.token() !== null, 5000, 20);
    const old = alpha.token()!;
    // alpha pauses; its lease is gone (deleted here), and beta is elected with a newer token.
    const beta = elect('beta');
    await client().del(keys.lease('leader'));
    await waitFor('beta elected', () => beta.token() !== null, 5000, 20);
    expect(beta.token()!).toBeGreaterThan(old);

    advance(5000);
    await staleFence(store.sweep({ fence: fence(old) }));
    expect((await store.get(sent.message.id)).state).toBe('leased');

    const swept = await store.sweep({ fence: fence(beta.token()!) });
    expect(swept.leasesReclaimed).toBe(1);
    expect((await store.get(sent.message.id)).state).toBe('failed');
  });

  it("a deposed leader's prune is refused and removes nothing; the leader's prune goes through", async () => {
    const { keys, store, elect, advance, fence } = await setup();
    const sent = await store.enqueue({ agent: 'marie', body: 'old news' });
    await store.cancel([sent.message.id]);
    const alpha = elect('alpha');
    await waitFor('alpha elected', () => alpha.token() !== null, 5000, 20);
    const old = alpha.token()!;
    const beta = elect('beta');
    await client().del(keys.lease('leader'));
    await waitFor('beta elected', () => beta.token() !== null, 5000, 20);

    advance(3 * 3_600_000);
    await staleFence(store.prune({ olderThanMs: 3_600_000, fence: fence(old) }));
    expect((await store.get(sent.message.id)).state).toBe('cancelled');
    const pruned = await store.prune({ olderThanMs: 3_600_000, fence: fence(beta.token()!) });
    expect(pruned.messages).toBe(1);
  });

  it('without a fence (a single host) sweep works as before', async () => {
    const { store, advance } = await setup();
    await store.enqueue({ agent: 'marie', body: 'hello' });
    await store.claim('marie', { owner: 'hook:test', leaseMs: 1000 });
    advance(5000);
    expect((await store.sweep()).leasesReclaimed).toBe(1);
  });
});
