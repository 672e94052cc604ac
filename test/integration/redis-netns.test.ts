/**
 * Nodes on their own networks (issue 12): two node processes, each in its own network namespace
 * joined to this host by a veth pair, so each reaches redis-server at its own address; the CLI
 * sending messages runs on the host. One node is cut off from Redis (its link taken down: packets
 * go nowhere, no reset, as in a real partition) and healed. Nothing is lost: what was sent to its
 * agent during the cut waits and is delivered after; no message is handed out twice; the node and
 * its agent are shown lost during the cut and up again after, with the same agent process; the other
 * node delivers all along. Needs root (`ip netns`); CI runs as root. Real redis-server, tmux, demo
 * agents.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { openRedisStore } from '../../src/queue/redis/redis-store.js';

const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
if (!canNetns && process.env.CI) throw new Error('the network namespace test needs root and `ip` (iproute2); CI runs as root');

const tag = String(process.pid % 10000);
const subnet = `10.${200 + (process.pid % 50)}`;
const netns = (k: number) => `hornets-${tag}-n${k}`;
const hostEnd = (k: number) => `hv${tag}n${k}`;
const nsEnd = (k: number) => `nv${tag}n${k}`;
const hostIp = (k: number) => `${subnet}.${k}.1`;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

function makeNetwork(k: number): void {
  ip('netns', 'add', netns(k));
  ip('link', 'add', hostEnd(k), 'type', 'veth', 'peer', 'name', nsEnd(k));
  ip('link', 'set', nsEnd(k), 'netns', netns(k));
  ip('addr', 'add', `${hostIp(k)}/24`, 'dev', hostEnd(k));
  ip('link', 'set', hostEnd(k), 'up');
  ip('netns', 'exec', netns(k), 'ip', 'addr', 'add', `${subnet}.${k}.2/24`, 'dev', nsEnd(k));
  ip('netns', 'exec', netns(k), 'ip', 'link', 'set', nsEnd(k), 'up');
  // The node's own hook endpoint is on 127.0.0.1 inside its namespace.
  ip('netns', 'exec', netns(k), 'ip', 'link', 'set', 'lo', 'up');
}

function removeNetwork(k: number): void {
  spawnSync('ip', ['link', 'del', hostEnd(k)]);
  spawnSync('ip', ['netns', 'del', netns(k)]);
}

const fx = new TmuxFixture();
let redis: RedisServer;
beforeAll(async () => {
  if (!canNetns) return;
  assertBuilt();
  for (const k of [1, 2]) makeNetwork(k);
  // Protected mode would refuse the nodes' non-loopback addresses (no password on this test server).
  redis = await startRedisServer({ args: ['--bind', '127.0.0.1', hostIp(1), hostIp(2), '--protected-mode', 'no'] });
});
afterAll(async () => {
  await redis?.destroy();
  if (canNetns) for (const k of [1, 2]) removeNetwork(k);
});
afterEach(async () => {
  await fx.cleanup();
});

interface Row {
  id: string;
  agent: string;
  state: string;
}
interface StatusRow {
  name: string;
  node: string | null;
  nodeState: string;
  generation: number;
}

describe.skipIf(!canNetns)('nodes in their own network namespaces', () => {
  it('a node cut off from Redis: its agent waits (shown lost), nothing is lost or handed out twice, and after the heal it delivers', async () => {
    const dir = fx.dir('hornets-netns-');
    initGitRepo(dir);
    const base = { TMUX: undefined, TMUX_PANE: undefined, HORNETS_NODE: undefined };
    const sender = new Project(dir, { ...base, REDIS_URL: redis.url, HORNETS_HOME: fx.dir('hornets-netns-c-'), HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_NODE: 'client' });
    await sender.ok(['init', '--agents', 'marie,bob', '--project', 'netnsteam']);
    const configPath = path.join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { name: string; node?: string }[]; defaults: Record<string, unknown> };
    delete config.defaults.node;
    config.agents = config.agents.map((a) => ({ ...a, node: a.name === 'marie' ? 'n1' : 'n2' }));
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const nodes = [1, 2].map((k) => {
      const node = new Project(
        dir,
        { ...base, REDIS_URL: `redis://${hostIp(k)}:${redis.port}`, HORNETS_HOME: fx.dir(`hornets-netns-${k}-`), HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_NODE: `n${k}` },
        ['ip', 'netns', 'exec', netns(k)],
      );
      fx.defer(() => node.run(['down', '--timeout', '1']));
      fx.defer(() => node.run(['daemon', 'stop']));
      return node;
    });
    for (const node of nodes) await node.ok(['up']);
    const messages = async () => JSON.parse((await sender.ok(['queue', 'list', '--all', '--json'])).stdout) as Row[];
    const states = async (ids: string[]) => {
      const all = await messages();
      return ids.map((id) => all.find((m) => m.id === id)?.state);
    };
    const status = async () => JSON.parse((await sender.ok(['status', '--json'])).stdout) as StatusRow[];
    const confirmed = (ids: string[]) => waitFor(`${ids.length} confirmed`, async () => (await states(ids)).every((s) => s === 'confirmed'), 90_000, 250);

    const before = [await sender.send('marie', 'm before'), await sender.send('bob', 'b before')];
    await confirmed(before);
    const bobGeneration = (await status()).find((a) => a.name === 'bob')?.generation;

    // The cut: n2's link to this host goes down. Its TCP connections see nothing more, not even a reset.
    ip('link', 'set', hostEnd(2), 'down');
    await waitFor('bob shown on a lost node', async () => (await status()).find((a) => a.name === 'bob')?.nodeState === 'lost', 60_000, 500);
    const during = [await sender.send('bob', 'b during 1'), await sender.send('bob', 'b during 2')];
    const marieDuring = await sender.send('marie', 'm during');
    // The other node goes on delivering; bob's messages wait.
    await confirmed([marieDuring]);
    expect(await states(during)).toEqual(['queued', 'queued']);

    // A cut shorter than lostAfterMs + stallGraceMs is ridden out (shown lost, the name kept): this
    // one lasts until the node gave its name up, so the heal is a rejoin.
    const n2Log = path.join(nodes[1]!.env.HORNETS_HOME!, 'logs', 'hornets.log');
    await waitFor('n2 gave its name up', () => existsSync(n2Log) && readFileSync(n2Log, 'utf8').includes('"event":"node_lost"'), 60_000, 500);
    // The heal: the node holds its name again, finds bob still running, and delivers what waited.
    ip('link', 'set', hostEnd(2), 'up');
    await waitFor('bob shown up again', async () => (await status()).find((a) => a.name === 'bob')?.nodeState === 'up', 90_000, 500);
    await confirmed(during);
    const after = await sender.send('bob', 'b after');
    await confirmed([after]);
    // The same agent generation: bob was not restarted, the node's new engine took it over running.
    expect((await status()).find((a) => a.name === 'bob')?.generation).toBe(bobGeneration);
    const log = readFileSync(path.join(nodes[1]!.env.HORNETS_HOME!, 'logs', 'hornets.log'), 'utf8');
    expect(log).toContain('"event":"node_lost"');
    expect(log).toContain('"event":"node_rejoined"');

    // Each message handed over once and confirmed once: never to two sessions, never again.
    const prefix = (JSON.parse(readFileSync(path.join(nodes[0]!.env.HORNETS_HOME!, 'store.json'), 'utf8')) as { prefix: string }).prefix;
    const store = await openRedisStore({ url: redis.url, prefix });
    try {
      for (const id of [...before, ...during, marieDuring, after]) {
        const kinds = (await store.events({ messageId: id, limit: 100 })).map((e) => e.kind);
        expect(
          kinds.filter((k) => k === 'delivered'),
          `${id}: ${kinds.join(' ')}`,
        ).toHaveLength(1);
        expect(
          kinds.filter((k) => k === 'confirmed'),
          `${id}: ${kinds.join(' ')}`,
        ).toHaveLength(1);
        expect(
          kinds.filter((k) => k === 'requeued' || k === 'lease_expired'),
          `${id}: ${kinds.join(' ')}`,
        ).toEqual([]);
      }
    } finally {
      await store.close();
    }
  }, 300_000);
});
