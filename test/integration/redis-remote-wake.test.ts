/**
 * A send to an agent of another node wakes that node's engine (issue 12). The wake is what makes the
 * engine act at once, so it leaves with the enqueue: on the connection the CLI already has open
 * for the store, not on a second connection it would first have to open (connect, ready check) —
 * that wait was most of the cross-node wake-up time. Real redis-server, the real CLI; the listener
 * is a node's bus subscription, as an engine holds it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { openNodeLink, type NodeLink } from '../../src/cluster/node-link.js';
import type { BusMessage } from '../../src/cluster/bus.js';

const fx = new TmuxFixture();
let redis: RedisServer;
const links: NodeLink[] = [];
const clients: Redis[] = [];
beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  for (const l of links.splice(0)) await l.close();
  for (const c of clients.splice(0)) c.disconnect();
  await fx.cleanup();
});

async function connectionsAccepted(admin: Redis): Promise<number> {
  const info = await admin.info('stats');
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
}

describe('a send to an agent of another node', () => {
  it("wakes that node's engine over the store's own connection: the send opens no further connection to Redis", async () => {
    const dir = fx.dir('hornets-remote-wake-');
    initGitRepo(dir);
    const sender = new Project(dir, {
      TMUX: undefined,
      TMUX_PANE: undefined,
      REDIS_URL: redis.url,
      HORNETS_NODE: 'client',
      HORNETS_TMUX_SOCKET: fx.socket(),
      HORNETS_HOME: fx.dir('hornets-remote-wake-c-'),
    });
    await sender.ok(['init', '--agents', 'marie']);
    const configPath = path.join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { name: string; node?: string }[]; defaults: Record<string, unknown> };
    delete config.defaults.node;
    config.agents[0]!.node = 'alpha';
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    // A first send registers the team in the store (and loads what the CLI caches); not measured.
    await sender.send('marie', 'warm-up');

    const prefix = (JSON.parse(readFileSync(path.join(sender.stateDir, 'store.json'), 'utf8')) as { prefix: string }).prefix;
    const link = await openNodeLink({ url: redis.url, prefix });
    links.push(link);
    const wakes: BusMessage[] = [];
    await link.bus.subscribe('alpha', (m) => void wakes.push(m));
    const admin = new Redis(redis.url);
    clients.push(admin);
    await admin.ping();

    const before = await connectionsAccepted(admin);
    const out = JSON.parse((await sender.ok(['send', 'marie', '--json', '--', 'hello'])).stdout) as { id: string; engineRunning: boolean };
    const opened = (await connectionsAccepted(admin)) - before;

    await waitFor('the wake at node alpha', () => wakes.length > 0, 10_000, 20);
    expect(wakes).toEqual([{ kind: 'wake', node: 'alpha', agent: 'marie' }]);
    // Someone listened on alpha's channel: the send says an engine runs there.
    expect(out.engineRunning).toBe(true);
    // The CLI's store connection and nothing else.
    expect(opened).toBe(1);
  }, 60_000);
});
