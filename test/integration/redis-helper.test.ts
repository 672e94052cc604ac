/** The test helper's redis-server: starts on a free port, keeps data across a restart with AOF, loses it without. */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const servers: RedisServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.destroy();
});

describe('startRedisServer', () => {
  it('serves on its own port, and with appendfsync always keeps what was written across kill -9', async () => {
    const s = await startRedisServer({ aof: 'always' });
    servers.push(s);
    const c = new Redis(s.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await c.connect();
    await c.set('k', 'v');
    c.disconnect();
    await s.kill9();
    await s.start();
    const c2 = new Redis(s.url);
    expect(await c2.get('k')).toBe('v');
    c2.disconnect();
  });

  it('without AOF a restart starts empty; a password is required when set', async () => {
    const s = await startRedisServer({ password: 'pw with space' });
    servers.push(s);
    const c = new Redis(s.url);
    await c.set('k', 'v');
    c.disconnect();
    await s.stop();
    await s.start();
    const c2 = new Redis(s.url);
    expect(await c2.get('k')).toBeNull();
    c2.disconnect();
    const anon = new Redis(`redis://127.0.0.1:${s.port}`, { maxRetriesPerRequest: 0 });
    await expect(anon.get('k')).rejects.toThrow(/NOAUTH/);
    anon.disconnect();
  });
});
