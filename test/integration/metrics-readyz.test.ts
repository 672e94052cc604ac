/**
 * /readyz of a real engine (issue 15): 200 only while the store answers and the node's private tmux
 * server lives, 503 naming what is wrong otherwise; /healthz stays the liveness check. SQLite and a
 * real redis-server (stopped and started again under the engine), real tmux, demo agents.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeTeams, startTeam } from '../helpers/team.js';
import { killServer, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

interface Readiness {
  status: number;
  body: { status: string; failing?: string[]; checks: Record<string, { ok: boolean; detail?: string }> };
}

async function readyz(url: string): Promise<Readiness> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness['body'] };
}

let redis: RedisServer | null = null;
afterEach(async () => {
  await closeTeams();
  delete process.env.HORNETS_NODE;
});
afterAll(async () => {
  await redis?.destroy();
});

describe('/readyz', () => {
  it('SQLite: ready while the store is open and the tmux server lives; 503 naming tmux once the server is gone; /healthz still answers', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo' }]);
    const url = t.daemon.metricsServer.url;
    const up = await readyz(url);
    expect(up.status).toBe(200);
    expect(up.body).toEqual({ status: 'ready', checks: { store: { ok: true }, tmux: { ok: true } } });

    await killServer(t.socket);
    const down = await readyz(url);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('not_ready');
    expect(down.body.failing).toEqual(['tmux']);
    expect(down.body.checks.tmux!.detail).toContain(t.socket);
    expect(down.body.checks.store).toEqual({ ok: true });
    // Liveness is another question: the engine process still serves.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('Redis: 503 naming the store while redis-server is stopped, 200 again once it is back', async () => {
    // With AOF the node's claim outlives the restart, so readiness comes back with the store; a
    // server without persistence forgets the claim and the node rejoins (the CLI's engine does, in
    // a new engine object with its own /readyz; this in-process one stays not ready, naming `node`).
    redis = await startRedisServer({ aof: 'everysec' });
    process.env.HORNETS_NODE = 'alpha';
    const t = await startTeam([{ name: 'marie', profile: 'demo' }], { config: { store: { kind: 'redis', url: redis.url }, defaults: { node: 'alpha' } } });
    const url = t.daemon.metricsServer.url;
    const ready = await readyz(url);
    expect(ready.status).toBe(200);
    // On Redis the node also holds its name in the registry.
    expect(ready.body.checks.node).toEqual({ ok: true });

    await redis.stop();
    let seen: Readiness | null = null;
    await waitFor('readyz 503', async () => (seen = await readyz(url)).status === 503, 10_000, 50);
    expect(seen!.body.failing).toEqual(['store']);
    expect(seen!.body.checks.store!.detail).toMatch(/Redis/);
    expect(JSON.stringify(seen!.body)).not.toContain(redis.url);

    await redis.start();
    let last: Readiness | null = null;
    await waitFor('readyz 200 again', async () => (last = await readyz(url)).status === 200, 15_000, 100).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(last)}`);
    });
  });
});
