/**
 * What a wake costs the engine before it can act (issue 12: cross-node wake-up p99 ≤ 20 ms). The
 * delivery pass a wake starts reads the store once — this node's agents, their records and counts
 * together — before it decides; on Redis each read more is a round trip more (the team's counts,
 * then the team's records, each after listing the team, made four). Real redis-server; the store
 * is the real Redis store, with its calls counted on the way.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openProject, type ProjectContext } from '../../src/services/context.js';
import { Engine } from '../../src/daemon/engine.js';
import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import type { MessageStore } from '../../src/queue/store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { TmuxFixture, initGitRepo, testEnv } from '../helpers/tmux.js';

const fx = new TmuxFixture();
let redis: RedisServer;
const stores: RedisMessageStore[] = [];
const contexts: ProjectContext[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const c of contexts.splice(0)) await c.store.close();
  await fx.cleanup();
});

/** The store with every call of the engine recorded (method name), passed on unchanged. */
function counted(store: MessageStore, calls: string[]): MessageStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe("a wake's delivery pass on a Redis team", () => {
  it("reads the store once before it decides: this node's agents, records and counts in one read", async () => {
    const dir = fx.dir('hornets-engine-wake-');
    initGitRepo(dir);
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ project: 'enginewake', agents: [{ name: 'marie', profile: 'demo' }] }, null, 2));
    const ctx = await openProject({ configPath: join(dir, 'hornets.json'), env: testEnv({ HORNETS_HOME: join(dir, 'state') }) });
    contexts.push(ctx);
    const store = await openRedisStore({ url: redis.url, prefix: 'enginewake' });
    stores.push(store);
    // The team has more agents than this node runs: the pass has no business with theirs.
    await store.registerAgents([
      { name: 'marie', profile: 'demo' },
      { name: 'bob', profile: 'demo' },
      { name: 'anga', profile: 'demo' },
    ]);
    await store.updateAgent('marie', { paneId: '%1' });
    const calls: string[] = [];
    const engine = new Engine({ ...ctx, store: counted(store, calls) }, { reconcileMs: 60_000 });

    engine.wake('marie');
    // The pass starts on the next turn of the event loop; stop() waits for it to end.
    await new Promise((r) => setImmediate(r));
    await engine.stop();

    // Nothing waits for marie: the pass read what it needed and decided there was nothing to do.
    expect(calls).toEqual(['agentOverview']);
  });

  it("a wake for one agent reads that agent's keys only; a wake for no agent reads all of this node's", async () => {
    const dir = fx.dir('hornets-engine-wake-one-');
    initGitRepo(dir);
    mkdirSync(join(dir, 'state'));
    const agents = [
      { name: 'marie', profile: 'demo' },
      { name: 'bob', profile: 'demo' },
    ];
    writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ project: 'enginewakeone', agents }, null, 2));
    const ctx = await openProject({ configPath: join(dir, 'hornets.json'), env: testEnv({ HORNETS_HOME: join(dir, 'state') }) });
    contexts.push(ctx);
    const store = await openRedisStore({ url: redis.url, prefix: 'enginewakeone' });
    stores.push(store);
    await store.registerAgents(agents);
    const read: string[][] = [];
    const recording = new Proxy(store as MessageStore, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'agentOverview') read.push([...(args[0] as string[])]);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const engine = new Engine({ ...ctx, store: recording }, { reconcileMs: 60_000 });
    engine.wake('bob');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    engine.wake(null);
    await new Promise((r) => setImmediate(r));
    await engine.stop();
    expect(read).toEqual([['bob'], ['marie', 'bob']]);
  });

  it('a wake just before stop() starts no pass after it: a stopped engine reads nothing', async () => {
    const dir = fx.dir('hornets-engine-wake-stop-');
    initGitRepo(dir);
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ project: 'enginewakestop', agents: [{ name: 'marie', profile: 'demo' }] }, null, 2));
    const ctx = await openProject({ configPath: join(dir, 'hornets.json'), env: testEnv({ HORNETS_HOME: join(dir, 'state') }) });
    contexts.push(ctx);
    const store = await openRedisStore({ url: redis.url, prefix: 'enginewakestop' });
    stores.push(store);
    await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
    const calls: string[] = [];
    const engine = new Engine({ ...ctx, store: counted(store, calls) }, { reconcileMs: 60_000 });
    engine.wake('marie');
    await engine.stop();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual([]);
  });
});
