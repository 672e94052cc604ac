/**
 * The baseline `npm run bench:redis` compares the Redis store against: a minimal queue on plain
 * ioredis doing the same kind of commands per operation — one script per enqueue (INCR, HSET, ZADD),
 * per claim (ZPOPMIN, HSET lease, ZADD leased) and per fenced ack (HGET token, HSET, ZREM) — with
 * no idempotency keys, depth limit, events, TTL, session or agent checks. `url` may list the
 * nodes of a Redis Cluster, comma-separated (`--cluster`): the keys share a hash tag there.
 */
import { Cluster, Redis } from 'ioredis';

const ENQUEUE = `
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2] .. seq, 'body', ARGV[1], 'priority', ARGV[2], 'state', 'queued')
redis.call('ZADD', KEYS[3], (100 - tonumber(ARGV[2])) * 1e12 + seq, seq)
return seq`;

const CLAIM = `
local r = redis.call('ZPOPMIN', KEYS[1])
if #r == 0 then return false end
local id = r[1]
redis.call('HSET', KEYS[3] .. id, 'state', 'leased', 'token', ARGV[1], 'until', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], id)
return id`;

const ACK = `
if redis.call('HGET', KEYS[2] .. ARGV[1], 'token') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2] .. ARGV[1], 'state', 'delivered')
redis.call('ZREM', KEYS[1], ARGV[1])
return 1`;

export interface RawRedisQueue {
  client: Redis;
  enqueue(body: string, priority?: number): Promise<string>;
  /** Leases the next message; null when none is left. */
  claim(token: string, leaseMs: number): Promise<string | null>;
  ack(id: string, token: string): Promise<number>;
  close(): Promise<void>;
}

export async function openRawRedisQueue(url: string, prefix: string): Promise<RawRedisQueue> {
  if (url.includes(',')) return openRawClusterQueue(url.split(','), prefix);
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  const [enq, claim, ack] = await Promise.all([ENQUEUE, CLAIM, ACK].map((s) => client.script('LOAD', s) as Promise<string>));
  const k = { seq: `raw:${prefix}:seq`, msg: `raw:${prefix}:m:`, ready: `raw:${prefix}:ready`, leased: `raw:${prefix}:leased` };
  return {
    client,
    async enqueue(body, priority = 5) {
      return String(await client.evalsha(enq!, 3, k.seq, k.msg, k.ready, body, priority));
    },
    async claim(token, leaseMs) {
      const id = (await client.evalsha(claim!, 3, k.ready, k.leased, k.msg, token, Date.now() + leaseMs)) as string | null;
      return id === null ? null : String(id);
    },
    async ack(id, token) {
      return Number(await client.evalsha(ack!, 2, k.leased, k.msg, id, token));
    },
    async close() {
      await client.quit();
    },
  };
}

type ScriptClient = Cluster & Record<'rawEnqueue' | 'rawClaim' | 'rawAck', (...args: (string | number)[]) => Promise<unknown>>;

/** The same queue on a Redis Cluster: one hash tag, scripts through defineCommand (EVALSHA per node). */
async function openRawClusterQueue(urls: string[], prefix: string): Promise<RawRedisQueue> {
  const client = new Cluster(
    urls.map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port) })),
    { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } },
  ) as ScriptClient;
  await client.connect();
  client.defineCommand('rawEnqueue', { numberOfKeys: 3, lua: ENQUEUE });
  client.defineCommand('rawClaim', { numberOfKeys: 3, lua: CLAIM });
  client.defineCommand('rawAck', { numberOfKeys: 2, lua: ACK });
  const k = { seq: `raw:{${prefix}}:seq`, msg: `raw:{${prefix}}:m:`, ready: `raw:{${prefix}}:ready`, leased: `raw:{${prefix}}:leased` };
  return {
    client: client as unknown as Redis,
    async enqueue(body, priority = 5) {
      return String(await client.rawEnqueue(k.seq, k.msg, k.ready, body, priority));
    },
    async claim(token, leaseMs) {
      const id = (await client.rawClaim(k.ready, k.leased, k.msg, token, Date.now() + leaseMs)) as string | null;
      return id === null ? null : String(id);
    },
    async ack(id, token) {
      return Number(await client.rawAck(k.leased, k.msg, id, token));
    },
    async close() {
      await client.quit();
    },
  };
}
