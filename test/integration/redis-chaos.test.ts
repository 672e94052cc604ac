/**
 * Chaos on a Redis team (issue 12): three nodes on this machine (own state directories and tmux
 * servers) with demo agents spread over them, a fourth process sending all along. Meanwhile node
 * engines are killed with SIGKILL at random and started again (as a supervisor would), and once,
 * mid-run, redis-server itself is killed and restarted on its append-only file (fsync always).
 * Invariant: every message whose `send` succeeded ends confirmed exactly once, or dead-lettered
 * with a reason; none is lost. Real redis-server, tmux and demo agents.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { openRedisStore } from '../../src/queue/redis/redis-store.js';

const fx = new TmuxFixture();
let redis: RedisServer;
beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer({ aof: 'always' });
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  await fx.cleanup();
});

interface Row {
  id: string;
  state: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function enginePid(home: string): number | null {
  try {
    const pid = Number(readFileSync(path.join(home, 'run', 'daemon.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('chaos on a Redis team', () => {
  it('engines killed -9 at random and redis-server restarted mid-run: every accepted message confirmed once or dead-lettered with a reason', async () => {
    const dir = fx.dir('hornets-chaos-');
    initGitRepo(dir);
    const base = { TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: redis.url };
    const sender = new Project(dir, { ...base, HORNETS_HOME: fx.dir('hornets-chaos-c-'), HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_NODE: 'client' });
    const agents = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
    await sender.ok(['init', '--agents', agents.join(','), '--project', 'chaosteam']);
    const configPath = path.join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { name: string; node?: string }[]; defaults: Record<string, unknown> };
    delete config.defaults.node;
    config.agents = config.agents.map((a, i) => ({ ...a, node: `n${(i % 3) + 1}` }));
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const nodes = [1, 2, 3].map((k) => {
      const home = fx.dir(`hornets-chaos-${k}-`);
      const node = new Project(dir, { ...base, HORNETS_HOME: home, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_NODE: `n${k}` });
      fx.defer(() => node.run(['down', '--timeout', '1']));
      fx.defer(() => node.run(['daemon', 'stop']));
      return { node, home };
    });
    for (const n of nodes) await n.node.ok(['up']);

    const accepted: string[] = [];
    // Sends refused while redis-server was away were never accepted: the sender saw an error.
    let refused = 0;
    let sending = true;
    const sends = (async () => {
      for (let i = 0; sending; i++) {
        const r = await sender.run(['send', agents[i % agents.length]!, `chaos ${i}`, '--json']);
        if (r.code === 0) accepted.push((JSON.parse(r.stdout) as { id: string }).id);
        else refused++;
        await sleep(150);
      }
    })();

    // Chaos: a random engine killed -9 every few seconds and started again a moment later; redis-server
    // killed -9 and restarted on its AOF once, in the middle.
    let kills = 0;
    for (let round = 0; round < 8; round++) {
      await sleep(2_500);
      if (round === 4) {
        await redis.kill9();
        await sleep(500);
        await redis.start();
        continue;
      }
      const victim = nodes[Math.floor(Math.random() * nodes.length)]!;
      const pid = enginePid(victim.home);
      if (pid !== null && alive(pid)) {
        process.kill(pid, 'SIGKILL');
        kills++;
        await waitFor('the engine gone', () => !alive(pid), 10_000, 20);
      }
      await sleep(300);
      await victim.node.ok(['daemon', 'start']);
    }
    sending = false;
    await sends;
    // Every engine runs at the end (one killed last may still be taking its name back).
    for (const n of nodes) {
      const pid = enginePid(n.home);
      if (pid === null || !alive(pid)) await n.node.ok(['daemon', 'start']);
    }
    expect(kills).toBeGreaterThan(3);
    expect(accepted.length, `${refused} sends refused`).toBeGreaterThan(20);

    const final = async () => {
      const rows = JSON.parse((await sender.ok(['queue', 'list', '--all', '--json', '--limit', '100000'])).stdout) as Row[];
      return new Map(rows.map((r) => [r.id, r]));
    };
    await waitFor(
      'every accepted message confirmed or dead',
      async () => {
        const rows = await final();
        return accepted.every((id) => ['confirmed', 'dead'].includes(rows.get(id)?.state ?? ''));
      },
      240_000,
      1_000,
    ).catch(async (err: unknown) => {
      const rows = await final();
      throw new Error(`${String(err)}: ${accepted.map((id) => `${id}=${rows.get(id)?.state ?? 'missing'}`).join(' ')}`);
    });

    const prefix = (JSON.parse(readFileSync(path.join(nodes[0]!.home, 'store.json'), 'utf8')) as { prefix: string }).prefix;
    const store = await openRedisStore({ url: redis.url, prefix });
    try {
      for (const id of accepted) {
        const m = await store.get(id);
        const kinds = (await store.events({ messageId: id, limit: 500 })).map((e) => e.kind);
        if (m.state === 'dead') expect(m.deadReason, `${id} dead without a reason`).toBeTruthy();
        else
          expect(
            kinds.filter((k) => k === 'confirmed'),
            `${id}: ${kinds.join(' ')}`,
          ).toHaveLength(1);
      }
    } finally {
      await store.close();
    }
  }, 420_000);
});
