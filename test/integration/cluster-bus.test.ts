/**
 * Cross-node bus on a real redis-server: wakes reach only the owning node, at once; controls are
 * durable — sent while the node is cut off from Redis, or across a redis-server restart with AOF,
 * they arrive after the reconnect exactly once and in order.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterBus, type BusMessage, type Delivery } from '../../src/cluster/bus.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { UsageError } from '../../src/errors.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/tmux.js';

const servers: RedisServer[] = [];
const proxies: TcpProxy[] = [];
const buses: ClusterBus[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  for (const b of buses.splice(0)) await b.stop();
  for (const c of clients.splice(0)) c.disconnect();
  for (const p of proxies.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.destroy();
});

async function server(options: Parameters<typeof startRedisServer>[0] = {}): Promise<RedisServer> {
  const s = await startRedisServer(options);
  servers.push(s);
  return s;
}

function client(url: string): Redis {
  // Reconnect quickly: the tests wait for the catch-up, not for ioredis's back-off.
  const c = new Redis(url, { retryStrategy: () => 50 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

function bus(url: string, blockMs = 30_000): ClusterBus {
  const b = new ClusterBus({ redis: client(url), keys: clusterKeys('bus'), blockMs, retryMs: 50 });
  buses.push(b);
  return b;
}

interface Got {
  message: BusMessage;
  delivery: Delivery;
}

function recorder() {
  const got: Got[] = [];
  const handler = (message: BusMessage, delivery: Delivery) => {
    got.push({ message, delivery });
  };
  const controls = () => got.filter((g) => g.message.kind === 'control').map((g) => g.message.payload?.n);
  const wakes = () => got.filter((g) => g.message.kind === 'wake');
  return { got, handler, controls, wakes };
}

describe('ClusterBus', () => {
  it('delivers a wake to the owning node only, at once (reads block far longer than the test waits)', async () => {
    const s = await server();
    const a = recorder();
    const b = recorder();
    const nodeA = bus(s.url);
    const nodeB = bus(s.url);
    await nodeA.subscribe('node-a', a.handler);
    await nodeB.subscribe('node-b', b.handler);
    const sender = bus(s.url);

    expect(await sender.wake('node-a', 'alice', { reason: 'enqueue' })).toBe(1);
    await waitFor('wake at node-a', () => a.wakes().length === 1, 5000);
    expect(a.got[0]).toEqual({ message: { kind: 'wake', node: 'node-a', agent: 'alice', payload: { reason: 'enqueue' } }, delivery: { via: 'pubsub', id: null } });

    // A control reaches node-b through its stream, without waiting out the 30 s XREAD BLOCK.
    const id = await sender.control('node-b', 'restart', 'bob', { n: 1 });
    await waitFor('control at node-b', () => b.controls().length === 1, 5000);
    expect(b.got).toEqual([{ message: { kind: 'control', node: 'node-b', agent: 'bob', action: 'restart', payload: { n: 1 } }, delivery: { via: 'stream', id } }]);
    // Then a sentinel to node-a: everything sent before it has arrived, and node-a never saw node-b's control.
    await sender.control('node-a', 'pause', undefined, { n: 'sentinel' });
    await waitFor('sentinel at node-a', () => a.controls().includes('sentinel'), 5000);
    expect(a.got.map((g) => g.message.kind)).toEqual(['wake', 'control']);
    expect(b.wakes()).toEqual([]);
  });

  it('hands controls over once and in order, across read batches; a throwing handler does not stop the reader', async () => {
    const s = await server();
    const node = bus(s.url);
    const seen: unknown[] = [];
    await node.subscribe('n1', (m) => {
      seen.push(m.payload?.n);
      if (m.payload?.n === 3) throw new Error('handler failure');
    });
    const sender = bus(s.url);
    const actions = ['restart', 'stop', 'pause', 'resume', 'rebrief'] as const;
    for (let n = 0; n < 250; n++) await sender.control('n1', actions[n % actions.length]!, 'x', { n });
    await waitFor('250 controls', () => seen.length >= 250, 10_000);
    await sender.control('n1', 'stop', 'x', { n: 'end' });
    await waitFor('sentinel', () => seen.includes('end'));
    expect(seen).toEqual([...Array.from({ length: 250 }, (_, n) => n), 'end']);
  });

  it('starts after the newest control present unless given fromId; malformed entries are skipped', async () => {
    const s = await server();
    const sender = bus(s.url);
    const raw = client(s.url);
    await sender.control('n1', 'stop', undefined, { n: 'old' });
    await raw.xadd(clusterKeys('bus').controlStream('n1'), '*', 'm', '{not json');
    const fresh = recorder();
    const replay = recorder();
    await bus(s.url).subscribe('n1', fresh.handler);
    await bus(s.url).subscribe('n1', replay.handler, { fromId: '0-0' });
    await sender.control('n1', 'resume', undefined, { n: 'new' });
    await waitFor('new at both', () => fresh.controls().includes('new') && replay.controls().includes('new'));
    expect(fresh.controls()).toEqual(['new']);
    expect(replay.controls()).toEqual(['old', 'new']);
  });

  it('controls sent while the node is cut off from Redis arrive after the link heals, exactly once, in order', async () => {
    const s = await server();
    const proxy = await startTcpProxy(s.port);
    proxies.push(proxy);
    const node = bus(`redis://127.0.0.1:${proxy.port}`);
    const r = recorder();
    let reconnects = 0;
    await node.subscribe('far', r.handler, { onReconnect: () => reconnects++ });
    const sender = bus(s.url);
    await sender.control('far', 'pause', 'a', { n: 0 });
    await waitFor('first control', () => r.controls().length === 1);

    proxy.cut();
    expect(proxy.open()).toBe(0);
    for (let n = 1; n <= 5; n++) await sender.control('far', (['restart', 'stop', 'pause', 'resume', 'rebrief'] as const)[n - 1]!, 'a', { n });
    // Nobody hears a wake meanwhile: pub/sub is at most once.
    expect(await sender.wake('far', 'a')).toBe(0);
    expect(r.controls()).toEqual([0]);

    proxy.heal();
    await waitFor('controls after the heal', () => r.controls().length >= 6, 10_000);
    await sender.control('far', 'resume', 'a', { n: 'sentinel' });
    await waitFor('sentinel', () => r.controls().includes('sentinel'));
    expect(r.controls()).toEqual([0, 1, 2, 3, 4, 5, 'sentinel']);
    expect(r.got.filter((g) => g.message.kind === 'control').map((g) => (g.message as { action: string }).action)).toEqual(['pause', 'restart', 'stop', 'pause', 'resume', 'rebrief', 'resume']);
    expect(r.wakes()).toEqual([]);
    // The node is told it reconnected (to rescan for the wakes it missed), and wakes flow again.
    await waitFor('onReconnect', () => reconnects > 0);
    await waitFor('a wake after the heal', async () => (await sender.wake('far', 'a')) > 0 && r.wakes().length > 0);
  });

  it('survives redis-server restarting with AOF mid-run: no crash, resumes, controls exactly once in order', async () => {
    const s = await server({ aof: 'always' });
    const node = bus(s.url);
    const r = recorder();
    await node.subscribe('n1', r.handler);
    const sender = bus(s.url);
    await sender.control('n1', 'pause', undefined, { n: 1 });
    await sender.control('n1', 'resume', undefined, { n: 2 });
    // Sent and not necessarily read yet when the server goes down.
    await sender.control('n1', 'stop', undefined, { n: 3 });

    await s.stop();
    await s.start();
    await sender.control('n1', 'restart', undefined, { n: 4 });
    await sender.control('n1', 'rebrief', undefined, { n: 5 });
    await waitFor('controls after the restart', () => r.controls().length >= 5, 15_000);
    await sender.control('n1', 'stop', undefined, { n: 'sentinel' });
    await waitFor('sentinel', () => r.controls().includes('sentinel'), 15_000);
    expect(r.controls()).toEqual([1, 2, 3, 4, 5, 'sentinel']);
    // Pub/sub is resubscribed too.
    await waitFor('a wake after the restart', async () => (await sender.wake('n1')) > 0 && r.wakes().length > 0, 15_000);
  });

  it('refuses a malformed message or node name with a UsageError, sending nothing', async () => {
    const s = await server();
    const sender = bus(s.url);
    await expect(sender.control('n1', 'explode' as 'stop')).rejects.toThrow(UsageError);
    await expect(sender.wake('bad}name')).rejects.toThrow(/invalid node name/);
    expect(await client(s.url).exists(clusterKeys('bus').controlStream('n1'))).toBe(0);
  });

  it('unsubscribe and stop close the bus connections; a stopped bus refuses new subscriptions', async () => {
    const s = await server();
    const admin = client(s.url);
    const count = async () =>
      String(await admin.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((l: string) => l.includes('name=hornets:bus:')).length;
    const node = bus(s.url);
    const sub = await node.subscribe('n1', () => undefined);
    expect(await count()).toBe(2);
    expect(sub.lastId()).toBe('0-0');
    await sub.unsubscribe();
    await waitFor('reader closed', async () => (await count()) === 1);
    await node.stop();
    await waitFor('subscriber closed', async () => (await count()) === 0);
    await expect(node.subscribe('n1', () => undefined)).rejects.toThrow(/stopped/);
  });
});
