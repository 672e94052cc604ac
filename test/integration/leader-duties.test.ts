/**
 * Cluster-wide duties fenced by the leader's token (issue 12), on a real redis-server: the store's
 * sweep and prune run with the leader's fencing token and are refused, writing nothing, once another
 * candidate was elected (a deposed leader: paused process, lost lease); the current leader's run
 * goes through. The election is the real one; the lease is stolen by deleting it. Both on a single
 * redis-server and on a three-master Redis Cluster (where the store checks the fence key in a step of
 * its own and each agent's slot keeps a high-water mark of the tokens that wrote there).
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/keys.js';
import { LeaderElection } from '../../src/cluster/leader.js';
import { QueueError } from '../../src/errors.js';
import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/tmux.js';

let server: RedisServer;
let cluster: RedisCluster;
const clients: (Redis | Cluster)[] = [];
const elections: LeaderElection[] = [];
const stores: RedisMessageStore[] = [];
let n = 0;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster({ masters: 3 })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.destroy(), cluster?.destroy()]);
});

type Kind = 'server' | 'cluster';
afterEach(async () => {
  for (const e of elections.splice(0)) await e.stop().catch(() => undefined);
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
});

/** A plain client; a Cluster one is handed to the election typed as Redis, as connect.ts does. */
function client(kind: Kind): Redis {
  const c = kind === 'server' ? new Redis(server.url, { maxRetriesPerRequest: 1 }) : new Cluster(cluster.urls.map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) })));
  c.on('error', () => undefined);
  clients.push(c);
  return c as Redis;
}

async function setup(kind: Kind) {
  const project = `duties${++n}`;
  const keys = clusterKeys(project);
  let now = 1_000_000;
  const store = await openRedisStore({ url: kind === 'server' ? server.url : cluster.urls[0]!, cluster: kind === 'cluster' ? cluster.urls : null, prefix: project, clock: () => now });
  stores.push(store);
  await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
  const elect = (candidate: string) => {
    let token: number | null = null;
    const e = new LeaderElection({ redis: client(kind), keys, duty: 'leader', candidate, leaseMs: 60_000, retryMs: 50, onElected: (t) => (token = t) });
    elections.push(e);
    e.start();
    return { e, token: () => token };
  };
  return { keys, store, elect, client: () => client(kind), advance: (ms: number) => (now += ms), fence: (token: number) => ({ key: keys.fence('leader'), token }) };
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

describe.each(['server', 'cluster'] as const)('cluster-wide duties fenced by the leader token (%s)', (kind) => {
  it("a deposed leader's sweep is refused and changes nothing; the new leader's sweep reclaims the lease", async () => {
    const { keys, store, elect, client, advance, fence } = await setup(kind);
    const sent = await store.enqueue({ agent: 'marie', body: 'hello' });
    const [leased] = await store.claim('marie', { owner: 'hook:test', leaseMs: 1000 });
    expect(leased!.id).toBe(sent.message.id);

    const alpha = elect('alpha');
    await waitFor('alpha elected', () => alpha.token() !== null, 5000, 20);
    const old = alpha.token()!;
    // alpha pauses; its lease is gone (deleted here), and beta is elected with a newer token.
    const beta = elect('beta');
    await client().del(keys.lease('leader'));
    // As a leader that stops does: the lease is free, the candidate is told (it saw it held for 60 s).
    beta.e.retryNow();
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
    const { keys, store, elect, client, advance, fence } = await setup(kind);
    const sent = await store.enqueue({ agent: 'marie', body: 'old news' });
    await store.cancel([sent.message.id]);
    const alpha = elect('alpha');
    await waitFor('alpha elected', () => alpha.token() !== null, 5000, 20);
    const old = alpha.token()!;
    const beta = elect('beta');
    await client().del(keys.lease('leader'));
    // As a leader that stops does: the lease is free, the candidate is told (it saw it held for 60 s).
    beta.e.retryNow();
    await waitFor('beta elected', () => beta.token() !== null, 5000, 20);

    advance(3 * 3_600_000);
    await staleFence(store.prune({ olderThanMs: 3_600_000, fence: fence(old) }));
    expect((await store.get(sent.message.id)).state).toBe('cancelled');
    const pruned = await store.prune({ olderThanMs: 3_600_000, fence: fence(beta.token()!) });
    expect(pruned.messages).toBe(1);
  });

  it("a deposed leader's prune removes no ended worker task; the leader's prune does", async () => {
    const { keys, store, elect, client, advance, fence } = await setup(kind);
    await store.workerTasks.createWorkerTask({ taskId: 'w1', worker: 'fab', description: 'old run', priority: 5, timeoutMs: 60_000, maxRetries: 0 });
    const alpha = elect('alpha');
    await waitFor('alpha elected', () => alpha.token() !== null, 5000, 20);
    const old = alpha.token()!;
    const beta = elect('beta');
    await client().del(keys.lease('leader'));
    // As a leader that stops does: the lease is free, the candidate is told (it saw it held for 60 s).
    beta.e.retryNow();
    await waitFor('beta elected', () => beta.token() !== null, 5000, 20);

    // The agents' old history goes first (the task is still open): what the stale prune below
    // could still remove is the ended worker task alone.
    advance(3 * 3_600_000);
    await store.prune({ olderThanMs: 3_600_000, fence: fence(beta.token()!) });
    await store.workerTasks.cancelWorkerTask('w1', 'done with it');
    advance(3 * 3_600_000);
    await staleFence(store.prune({ olderThanMs: 3_600_000, fence: fence(old) }));
    expect((await store.workerTasks.getWorkerTask('w1'))?.state).toBe('cancelled');
    const pruned = await store.prune({ olderThanMs: 3_600_000, fence: fence(beta.token()!) });
    expect(pruned.tasks).toBe(1);
    expect(await store.workerTasks.getWorkerTask('w1')).toBeNull();
  });

  it('without a fence (a single host) sweep works as before', async () => {
    const { store, advance } = await setup(kind);
    await store.enqueue({ agent: 'marie', body: 'hello' });
    await store.claim('marie', { owner: 'hook:test', leaseMs: 1000 });
    advance(5000);
    expect((await store.sweep()).leasesReclaimed).toBe(1);
  });
});

describe('on a Redis Cluster, the per-agent fence mark', () => {
  it('refuses an older token where a newer leader wrote, even when the fence check before it passed', async () => {
    const { keys, store, elect, client, advance, fence } = await setup('cluster');
    const sent = await store.enqueue({ agent: 'marie', body: 'hello' });
    await store.claim('marie', { owner: 'hook:test', leaseMs: 1000 });
    const alpha = elect('alpha');
    await waitFor('alpha elected', () => alpha.token() !== null, 5000, 20);
    const old = alpha.token()!;
    const beta = elect('beta');
    await client().del(keys.lease('leader'));
    // As a leader that stops does: the lease is free, the candidate is told (it saw it held for 60 s).
    beta.e.retryNow();
    await waitFor('beta elected', () => beta.token() !== null, 5000, 20);
    advance(5000);
    expect((await store.sweep({ fence: fence(beta.token()!) })).leasesReclaimed).toBe(1);
    await store.claim('marie', { owner: 'hook:test', leaseMs: 1000 });
    advance(5000);
    // alpha read the fence key before beta was elected: its check passed, and only the mark in
    // marie's slot stands between its stale sweep and her lease.
    await client().set(keys.fence('leader'), String(old));
    await staleFence(store.sweep({ fence: fence(old) }));
    expect((await store.get(sent.message.id)).state).toBe('leased');
  });
});
