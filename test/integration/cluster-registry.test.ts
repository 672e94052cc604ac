/** Node registry on a real redis-server: one live holder per name, lost after missed heartbeats, stopped on unregister. */
import { fork, type ChildProcess } from 'node:child_process';
import { type Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateNodeError } from '../../src/cluster/errors.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { NodeRegistry, type NodeInfo, type NodeLostEvent } from '../../src/cluster/node-registry.js';
import { compiledPath } from '../helpers/compiled.js';
import { startRedisCluster, startRedisServer, testClient, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/tmux.js';

let server: RedisServer;
// The same tests on a three-master Redis Cluster (issue 12): `target` is set by each describe.each block.
let cluster: RedisCluster;
let target: 'server' | 'cluster' = 'server';
const clients: Redis[] = [];
const registries: NodeRegistry[] = [];
const children: ChildProcess[] = [];
let project = 0;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster({ masters: 3 })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.destroy(), cluster?.destroy()]);
});
afterEach(async () => {
  // A registry cut off from Redis may still hold its name (it rides out a cut of lostAfterMs +
  // stallGraceMs): its unregister is never answered, so it is not waited for.
  for (const r of registries.splice(0)) await Promise.race([r.unregister().catch(() => undefined), new Promise((res) => setTimeout(res, 1000))]);
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const c of clients.splice(0)) c.disconnect();
});

function client(): Redis {
  const c = testClient(target === 'server' ? { server } : { cluster }, { maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

/** Each test its own project prefix on the file's server. */
function freshKeys() {
  return clusterKeys(`reg${++project}`);
}

function registry(keys: ReturnType<typeof clusterKeys>, options: { heartbeatMs?: number; onLost?: (e: NodeLostEvent) => void; redis?: Redis } = {}): NodeRegistry {
  const r = new NodeRegistry({ redis: options.redis ?? client(), keys, heartbeatMs: options.heartbeatMs ?? 100, lostAfterMs: 3 * (options.heartbeatMs ?? 100), onLost: options.onLost });
  registries.push(r);
  return r;
}

const info = (host: string, pid: number): NodeInfo => ({ host, pid, startedAt: 1_700_000_000_000, version: '0.1.0', hookEndpoint: 'http://127.0.0.1:7411' });

describe.each(['server', 'cluster'] as const)('NodeRegistry (%s)', (kind) => {
  beforeAll(() => {
    target = kind;
  });

  it('refuses a second live node with the same name, naming the holder, and changes nothing', async () => {
    const keys = freshKeys();
    const a = registry(keys);
    const b = registry(keys);
    await a.register('alpha', info('host-a', 111));
    const before = await a.list();

    const err = await b.register('alpha', info('host-b', 222)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuplicateNodeError);
    const dup = err as DuplicateNodeError;
    expect(dup.holder).toMatchObject({ host: 'host-a', pid: 111 });
    expect(dup.message).toMatch(/host-a.*pid 111/);
    expect(dup.retryAfterMs).toBeGreaterThan(0);
    // At most the claim's TTL: lostAfterMs (300) + stallGraceMs (default the same).
    expect(dup.retryAfterMs).toBeLessThanOrEqual(600);
    expect(b.registeredName()).toBeNull();

    const after = await a.list();
    expect(after.map(({ lastHeartbeatAt: _l, ...r }) => r)).toEqual(before.map(({ lastHeartbeatAt: _l, ...r }) => r));
    expect(after).toEqual([expect.objectContaining({ name: 'alpha', host: 'host-a', pid: 111, state: 'up', hookEndpoint: 'http://127.0.0.1:7411' })]);
  });

  it('a node that stops heartbeating is lost once its claim expires, and the name can be taken again', async () => {
    const keys = freshKeys();
    const lost: NodeLostEvent[] = [];
    // Its own connection, cut below: the node's heartbeats stop reaching Redis.
    const aConn = client();
    const a = registry(keys, { redis: aConn, onLost: (e) => lost.push(e) });
    await a.register('alpha', info('host-a', 111));
    const observer = registry(keys);
    expect((await observer.list())[0]?.state).toBe('up');

    aConn.disconnect();
    const seen = await waitFor('alpha shown lost', async () => (await observer.list()).find((n) => n.name === 'alpha' && n.state === 'lost'));
    expect(seen.lastHeartbeatAt).not.toBeNull();
    // The node itself noticed (no renewal for lostAfterMs) and stopped acting as alpha.
    await waitFor('onLost called', () => lost.length === 1);
    expect(lost[0]).toMatchObject({ node: 'alpha', reason: 'unreachable' });
    expect(a.registeredName()).toBeNull();

    const b = registry(keys);
    await b.register('alpha', info('host-b', 222));
    expect(await b.list()).toEqual([expect.objectContaining({ name: 'alpha', host: 'host-b', pid: 222, state: 'up' })]);
  });

  it('a node whose claim was taken over learns it on its next heartbeat (reason taken) and stops', async () => {
    const keys = freshKeys();
    const lost: NodeLostEvent[] = [];
    const admin = client();
    const a = registry(keys, { onLost: (e) => lost.push(e) });
    await a.register('alpha', info('host-a', 111));
    // As if its claim expired during a long pause and another node registered meanwhile.
    await admin.set(keys.nodeClaim('alpha'), 'someone-else', 'PX', 10_000);
    await waitFor('onLost called', () => lost.length === 1);
    expect(lost[0]).toMatchObject({ node: 'alpha', reason: 'taken' });
    expect(await a.unregister()).toBe(false);
    expect(await admin.get(keys.nodeClaim('alpha'))).toBe('someone-else');
  });

  it('keeps a live node up across many heartbeat periods, then shows it stopped after unregister', async () => {
    const keys = freshKeys();
    const a = registry(keys, { heartbeatMs: 50 });
    await a.register('alpha', info('host-a', 111));
    const observer = registry(keys);
    const first = (await observer.list())[0]!.lastHeartbeatAt!;
    // Outlive the 150 ms TTL several times over: only renewals keep it up.
    await waitFor('several heartbeats', async () => ((await observer.list())[0]!.lastHeartbeatAt ?? 0) >= first + 600);
    expect((await observer.list())[0]!.state).toBe('up');

    expect(await a.unregister()).toBe(true);
    const [rec] = await observer.list();
    expect(rec).toMatchObject({ name: 'alpha', state: 'stopped' });
    expect(rec!.stoppedAt).not.toBeNull();
    // And the name is free at once.
    await registry(keys).register('alpha', info('host-b', 222));
    expect((await observer.list())[0]).toMatchObject({ state: 'up', host: 'host-b', stoppedAt: null });
  });

  it('lists every node ever seen with its own state', async () => {
    const keys = freshKeys();
    const up = registry(keys);
    const stopped = registry(keys);
    const lostConn = client();
    const lost = registry(keys, { redis: lostConn });
    await up.register('n-up', info('h1', 1));
    await stopped.register('n-stopped', info('h2', 2));
    await lost.register('n-lost', info('h3', 3));
    await stopped.unregister();
    lostConn.disconnect();
    const observer = registry(keys);
    const list = await waitFor('n-lost lost', async () => {
      const l = await observer.list();
      return l.find((n) => n.name === 'n-lost')?.state === 'lost' ? l : null;
    });
    expect(list.map((n) => [n.name, n.state])).toEqual([
      ['n-lost', 'lost'],
      ['n-stopped', 'stopped'],
      ['n-up', 'up'],
    ]);
  });

  // The worker process connects to one server by URL.
  it.skipIf(kind === 'cluster')('refuses the same name across two processes; after the holder is killed the other one takes it', async () => {
    const keys = freshKeys();
    const spawnWorker = async () => {
      const c = fork(compiledPath('test/helpers/workers/cluster-worker.ts'), [server.url, keys.project, '100'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(c);
      const messages: Record<string, unknown>[] = [];
      c.on('message', (m: Record<string, unknown>) => messages.push(m));
      await waitFor('worker ready', () => messages.some((m) => m.type === 'ready'));
      return { c, messages };
    };
    const first = await spawnWorker();
    const second = await spawnWorker();
    first.c.send({ type: 'register', name: 'shared' });
    await waitFor('first registered', () => first.messages.some((m) => m.type === 'registered'));
    second.c.send({ type: 'register', name: 'shared' });
    const refused = await waitFor('second refused', () => second.messages.find((m) => m.type === 'refused'));
    expect(refused).toMatchObject({ duplicate: true, holder: { host: 'worker-host', pid: first.c.pid } });

    first.c.kill('SIGKILL');
    const observer = registry(keys);
    await waitFor('holder lost', async () => (await observer.list())[0]?.state === 'lost');
    second.c.send({ type: 'register', name: 'shared' });
    await waitFor('second registered', () => second.messages.some((m) => m.type === 'registered'));
    expect((await observer.list())[0]).toMatchObject({ state: 'up', pid: second.c.pid });
  });

  it('records times from the injected clock (registration and heartbeats)', async () => {
    const keys = freshKeys();
    // A clock far in the past that ticks one ms per reading: times are the node's, not Redis's.
    let t = 5_000_000;
    const r = new NodeRegistry({ redis: client(), keys, heartbeatMs: 50, lostAfterMs: 150, clock: { now: () => ++t } });
    registries.push(r);
    await r.register('alpha', info('host-a', 111));
    const [first] = await r.list();
    expect(first!.since).toBe(5_000_001);
    await waitFor('a heartbeat on the fake clock', async () => ((await r.list())[0]!.lastHeartbeatAt ?? 0) > 5_000_001);
    const [later] = await r.list();
    expect(later!.lastHeartbeatAt!).toBeLessThan(5_001_000);
    expect(later!.state).toBe('up');
  });

  it('rejects names that could escape the key prefix', () => {
    expect(() => clusterKeys('Bad Project')).toThrow(/invalid project name/);
    expect(() => freshKeys().nodeClaim('a}b')).toThrow(/invalid node name/);
    expect(() => freshKeys().nodeClaim('a:b')).toThrow(/invalid node name/);
  });
});
