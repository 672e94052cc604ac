/**
 * A team on a Redis store, as a user runs it (issue 12): `init`, then every command with REDIS_URL
 * set — `up` starts demo agents and the engine, `send` queues into Redis, the agents' hooks take the
 * messages from the engine, and each message ends confirmed exactly once. A command that resolves
 * another store (REDIS_URL missing in its shell) is refused and writes nothing; a wrong password or
 * a server that is down gives a clear error without the password. Moving the queue between SQLite
 * and Redis with `queue export` / `queue import` round-trips exactly. Real tmux, real redis-server.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const fx = new TmuxFixture();
let redis: RedisServer;
beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer({ password: 's3cret pw' });
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  await fx.cleanup();
});

async function team(agents: string, env: Record<string, string | undefined>): Promise<Project> {
  const dir = fx.dir('hornets-redis-team-');
  initGitRepo(dir);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: undefined, ...env });
  await p.ok(['init', '--agents', agents]);
  fx.defer(() => p.run(['down', '--timeout', '1']));
  fx.defer(() => p.run(['daemon', 'stop']));
  return p;
}

interface Row {
  id: string;
  agent: string;
  state: string;
  body: string;
}
async function messages(p: Project, env: Record<string, string | undefined> = {}): Promise<Row[]> {
  return JSON.parse((await p.ok(['queue', 'list', '--all', '--json'], { env })).stdout) as Row[];
}

describe('a team on Redis', () => {
  it('up, send to each agent, every message confirmed once; another store is refused; status works', async () => {
    const p = await team('marie,bob', { REDIS_URL: redis.url });
    const up = await p.ok(['up', '--json']);
    expect((JSON.parse(up.stdout) as { engine: { started: boolean } }).engine.started).toBe(true);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (const agent of ['marie', 'bob']) ids.push(/^queued ([0-9a-z]+)/.exec((await p.ok(['send', agent, `note ${i} for ${agent}`])).stdout)![1]!);
    }
    await waitFor('every message confirmed', async () => (await messages(p)).filter((m) => ids.includes(m.id) && m.state === 'confirmed').length === ids.length, 60_000, 200);
    const all = await messages(p);
    expect(all.filter((m) => ids.includes(m.id)).map((m) => m.state)).toEqual(ids.map(() => 'confirmed'));
    const status = JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; state: string }[];
    expect(status.map((a) => a.name).sort()).toEqual(['bob', 'marie']);
    // The record names Redis without the password.
    const record = readFileSync(path.join(p.dir, '.hornets', 'store.json'), 'utf8');
    expect(record).toContain('"kind": "redis"');
    expect(record).not.toContain('s3cret');
    // A shell without REDIS_URL is refused, says why, and queues nothing anywhere.
    const refused = await p.run(['send', 'marie', 'lost?'], { env: { REDIS_URL: undefined } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("this project's queue is in Redis");
    expect(refused.stderr).not.toContain('s3cret');
    expect((await messages(p)).some((m) => m.body === 'lost?')).toBe(false);
  }, 120_000);

  it('a wrong password or a server that is down: a clear error naming the address, never the password', async () => {
    const p = await team('marie', {});
    // On Redis every agent needs a node (see redis-nodes.test.ts); init without REDIS_URL wrote none.
    const configFile = path.join(p.dir, 'hornets.json');
    const written = JSON.parse(readFileSync(configFile, 'utf8')) as { defaults: Record<string, unknown> };
    writeFileSync(configFile, JSON.stringify({ ...written, defaults: { ...written.defaults, node: 'here' } }, null, 2));
    const down = await p.run(['status'], { env: { REDIS_URL: 'redis://:pw-down@127.0.0.1:1' } });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach Redis at redis://:***@127.0.0.1:1');
    expect(down.stderr).not.toContain('pw-down');
    const wrong = await p.run(['status'], { env: { REDIS_URL: redis.url.replace('s3cret%20pw', 'nope-pw') } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/Redis/);
    expect(wrong.stderr).not.toContain("this project's queue is in");
    expect(wrong.stderr).not.toContain('nope-pw');
    // doctor reports the store as one failed check among the rest, instead of stopping at it.
    for (const [url, detail, fix] of [
      ['redis://:pw-down@127.0.0.1:1', 'cannot reach Redis at redis://:***@127.0.0.1:1', /start redis-server/],
      [redis.url.replace('s3cret%20pw', 'nope-pw'), 'refused the credentials (wrong password)', /the right password/],
    ] as const) {
      const doc = await p.run(['doctor', '--json'], { env: { REDIS_URL: url } });
      expect(doc.code).toBe(1);
      expect(doc.stdout).not.toMatch(/pw-down|nope-pw/);
      const report = JSON.parse(doc.stdout) as { ok: boolean; checks: { name: string; ok: boolean; detail: string; fix: string | null }[] };
      expect(report.checks.map((c) => c.name)).toEqual(['node', 'git', 'store']);
      expect(report.checks[2]).toMatchObject({ ok: false });
      expect(report.checks[2]!.detail).toContain(detail);
      expect(report.checks[2]!.fix).toMatch(fix);
    }
    // A failed open records nothing: the right server works afterwards.
    await p.ok(['status'], { env: { REDIS_URL: redis.url } });
  }, 60_000);

  it('queue export from SQLite, import into Redis and back: byte-identical exports', async () => {
    const p = await team('marie,bob', {});
    for (let i = 0; i < 5; i++) await p.ok(['send', i % 2 ? 'bob' : 'marie', `message ${i}`, '--priority', String(3 + i)]);
    await p.ok(['send', 'marie', 'with a key', '--key', 'k1']);
    const fromSqlite = (await p.ok(['queue', 'export'])).stdout;
    expect(fromSqlite.trim().split('\n')).toHaveLength(6);
    const file = path.join(p.dir, 'pending.jsonl');
    writeFileSync(file, fromSqlite);

    // Move: remove the record, point at Redis (its own prefix), import.
    rmSync(path.join(p.dir, '.hornets', 'store.json'), { force: true });
    rmSync(path.join(p.dir, '.hornets', 'hornets.db'), { force: true });
    for (const f of ['hornets.db-wal', 'hornets.db-shm']) rmSync(path.join(p.dir, '.hornets', f), { force: true });
    const env = { REDIS_URL: redis.url, HORNETS_REDIS_URL: undefined };
    const config = JSON.parse(readFileSync(path.join(p.dir, 'hornets.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(
      path.join(p.dir, 'hornets.json'),
      JSON.stringify({ ...config, defaults: { ...(config.defaults as object), node: 'here' }, store: { kind: 'redis', url: 'redis://127.0.0.1:9', prefix: 'moved' } }, null, 2),
    );
    await p.ok(['queue', 'import', file], { env });
    const fromRedis = (await p.ok(['queue', 'export'], { env })).stdout;
    expect(fromRedis).toBe(fromSqlite);

    // And back.
    writeFileSync(file, fromRedis);
    writeFileSync(path.join(p.dir, 'hornets.json'), JSON.stringify(config, null, 2));
    rmSync(path.join(p.dir, '.hornets', 'store.json'), { force: true });
    await p.ok(['queue', 'import', file]);
    expect((await p.ok(['queue', 'export'])).stdout).toBe(fromSqlite);
  }, 60_000);
});
