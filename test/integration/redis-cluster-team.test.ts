/**
 * A team on a Redis Cluster, as a user runs it (issue 12): `init` and every command with
 * REDIS_CLUSTER_NODES (and the password in REDIS_PASSWORD, as the seeds keep it); `up` starts demo
 * agents and the engine, `send` queues into the cluster, the hooks take the messages from the engine,
 * and each message ends confirmed exactly once. Real tmux, a real three-master Redis Cluster.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis.js';

const fx = new TmuxFixture();
let cluster: RedisCluster;
const password = 's3cret-pw';
beforeAll(async () => {
  assertBuilt();
  cluster = await startRedisCluster({ masters: 3, password });
}, 60_000);
afterAll(async () => {
  await cluster?.destroy();
});
afterEach(async () => {
  await fx.cleanup();
});

interface Row {
  id: string;
  agent: string;
  state: string;
  body: string;
}

describe('a team on a Redis Cluster', () => {
  it('init, up, send to each agent, every message confirmed once; status names the cluster without the password', async () => {
    const dir = fx.dir('hornets-cluster-team-');
    initGitRepo(dir);
    const nodes = cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
    const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: undefined, REDIS_CLUSTER_NODES: nodes, REDIS_PASSWORD: password });
    await p.ok(['init', '--agents', 'marie,bob,ada']);
    fx.defer(() => p.run(['down', '--timeout', '1']));
    fx.defer(() => p.run(['daemon', 'stop']));
    const up = await p.ok(['up', '--json']);
    expect((JSON.parse(up.stdout) as { engine: { started: boolean } }).engine.started).toBe(true);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      for (const agent of ['marie', 'bob', 'ada']) ids.push(/^queued ([0-9a-z]+)/.exec((await p.ok(['send', agent, `note ${i} for ${agent}`])).stdout)![1]!);
    }
    const messages = async () => JSON.parse((await p.ok(['queue', 'list', '--all', '--json'])).stdout) as Row[];
    await waitFor('every message confirmed', async () => (await messages()).filter((m) => ids.includes(m.id) && m.state === 'confirmed').length === ids.length, 90_000, 250);
    const all = await messages();
    expect(all.filter((m) => ids.includes(m.id)).map((m) => m.state)).toEqual(ids.map(() => 'confirmed'));
    expect(all.length).toBe(ids.length);
    const record = readFileSync(path.join(p.dir, '.hornets', 'store.json'), 'utf8');
    expect(record).toContain('"cluster"');
    expect(record).not.toContain(password);
    const status = await p.ok(['status']);
    expect(status.stdout + status.stderr).not.toContain(password);
  }, 180_000);
});
