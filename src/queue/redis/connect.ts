/**
 * Opening the Redis connection: bounded in time, typed errors that name what was wrong and never
 * the password. A single server (`url`) or a Redis Cluster (`cluster`: seed node URLs).
 *
 * A Cluster client is handed out typed as `Redis`: ioredis' Cluster has the same command interface
 * (commands, pipeline, multi, defineCommand, subscribe), and `redis.isCluster` tells them apart
 * where the two differ (cross-slot commands, duplicate()). What runs on a Cluster must keep every
 * script, MULTI and pipeline within one hash slot (queue/redis/keys.ts, cluster/keys.ts).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { QueueError } from '../../errors.js';

export class RedisConnectError extends QueueError {
  constructor(
    readonly reason: 'bad_url' | 'unreachable' | 'auth' | 'timeout',
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super('io', message, { url, reason }, options);
  }
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

export interface ConnectOptions {
  /** The single server; with `cluster`, the first seed node (for messages). */
  url: string;
  /** Seed nodes of a Redis Cluster (redis:// URLs, no database number): opens a Cluster client. */
  cluster?: readonly string[] | null;
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export async function connectRedis(options: ConnectOptions): Promise<Redis> {
  if (options.cluster && options.cluster.length > 0) return connectCluster(options.cluster, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const shown = redactUrl(options.url);
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new RedisConnectError('bad_url', `invalid Redis URL ${shown}: expected redis://[:password@]host:port[/db]`, shown);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RedisConnectError('bad_url', `invalid Redis URL ${shown}: the scheme must be redis:// or rediss://`, shown);
  }
  if (parsed.pathname.length > 1 && !/^\/\d+$/.test(parsed.pathname)) {
    throw new RedisConnectError('bad_url', `invalid Redis URL ${shown}: the path must be a database number`, shown);
  }
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let opening = true;
  const redis = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // Commands fail instead of piling up while the server is away; the caller sees an io error.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 2,
    // Fail fast while opening; afterwards reconnect with a capped backoff.
    retryStrategy: (times) => (opening ? null : Math.min(times * 200, 2_000)),
    enableReadyCheck: true,
  });
  // ioredis emits 'error' for every failed reconnect; without a listener Node would print them.
  // While opening, the last one says why (an AUTH refusal arrives here; connect() only reports
  // "Connection is closed").
  let lastError: unknown = null;
  redis.on('error', (err: unknown) => {
    if (opening) lastError = err;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisConnectError('timeout', `Redis at ${shown} did not answer within ${timeoutMs} ms`, shown)), timeoutMs);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    if (err instanceof RedisConnectError) throw err;
    const cause = lastError ?? err;
    const text = cause instanceof Error ? cause.message : String(cause);
    if (/WRONGPASS|NOAUTH|invalid password|AUTH/i.test(text)) {
      // No cause: ioredis' reply error carries the AUTH command with its arguments.
      throw new RedisConnectError('auth', `Redis at ${shown} refused the credentials (${parsed.password ? 'wrong password' : 'a password is required'})`, shown);
    }
    throw new RedisConnectError('unreachable', `cannot reach Redis at ${shown}: ${text.replaceAll(parsed.password || '\u0000', '***')}`, shown, { cause });
  } finally {
    clearTimeout(timer);
    opening = false;
  }
  return redis;
}

type DuplicateOptions = Pick<RedisOptions, 'lazyConnect' | 'enableOfflineQueue' | 'connectionName' | 'maxRetriesPerRequest'>;

/**
 * A second connection of the same kind (the bus subscribes and blocks on its own). A Cluster takes
 * the per-node options (name, retries) in its redisOptions, beside the credentials it has there.
 */
export function duplicateClient(redis: Redis, overrides: DuplicateOptions & { shardedSubscribers?: boolean }): Redis {
  const { shardedSubscribers, ...options } = overrides;
  if (!redis.isCluster) return redis.duplicate(options);
  const cluster = redis as unknown as Cluster;
  const { lazyConnect, enableOfflineQueue, ...perNode } = options;
  return cluster.duplicate(undefined, {
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    // Sharded pub/sub (SSUBSCRIBE): a connection per shard, kept by ioredis.
    ...(shardedSubscribers ? { shardedSubscribers } : {}),
    redisOptions: { ...cluster.options.redisOptions, ...perNode },
  }) as unknown as Redis;
}

function parseClusterNode(url: string): { url: URL; shown: string } {
  const shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisConnectError('bad_url', `invalid Redis Cluster node URL ${shown}: expected redis://[:password@]host:port`, shown);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisConnectError('bad_url', `invalid Redis Cluster node URL ${shown}: the scheme must be redis:// or rediss://`, shown);
  if (!u.hostname) throw new RedisConnectError('bad_url', `invalid Redis Cluster node URL ${shown}: no host`, shown);
  if (u.pathname.length > 1 && u.pathname !== '/0') throw new RedisConnectError('bad_url', `invalid Redis Cluster node URL ${shown}: a cluster has only database 0`, shown);
  return { url: u, shown };
}

async function connectCluster(urls: readonly string[], timeoutMs: number): Promise<Redis> {
  const nodes = urls.map(parseClusterNode);
  const first = nodes[0]!;
  const shown = nodes.map((n) => n.shown).join(', ');
  const username = decodeURIComponent(first.url.username);
  const password = decodeURIComponent(first.url.password);
  const tls = first.url.protocol === 'rediss:';
  for (const n of nodes) {
    if (decodeURIComponent(n.url.username) !== username || decodeURIComponent(n.url.password) !== password || (n.url.protocol === 'rediss:') !== tls) {
      throw new RedisConnectError('bad_url', `the Redis Cluster node URLs ${shown} differ in credentials or scheme: every node of a cluster takes the same`, shown);
    }
  }
  let opening = true;
  const cluster = new Cluster(
    nodes.map((n) => ({ host: n.url.hostname, port: Number(n.url.port || 6379) })),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      // Fail fast while opening; afterwards reconnect with a capped backoff.
      clusterRetryStrategy: (times) => (opening ? null : Math.min(times * 200, 2_000)),
      slotsRefreshTimeout: timeoutMs,
      redisOptions: {
        connectTimeout: timeoutMs,
        maxRetriesPerRequest: 2,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        ...(tls ? { tls: {} } : {}),
      },
    },
  );
  let lastError: unknown = null;
  cluster.on('error', (err: unknown) => {
    if (opening) lastError = err;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      cluster.connect().then(() => cluster.ping()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisConnectError('timeout', `Redis Cluster at ${shown} did not answer within ${timeoutMs} ms`, shown)), timeoutMs);
      }),
    ]);
  } catch (err) {
    cluster.disconnect();
    if (err instanceof RedisConnectError) throw err;
    const cause = lastError ?? err;
    const text = cause instanceof Error ? cause.message : String(cause);
    if (/WRONGPASS|NOAUTH|invalid password|AUTH/i.test(text)) {
      throw new RedisConnectError('auth', `Redis Cluster at ${shown} refused the credentials (${password ? 'wrong password' : 'a password is required'})`, shown);
    }
    throw new RedisConnectError('unreachable', `cannot reach Redis Cluster at ${shown}: ${password ? text.replaceAll(password, '***') : text}`, shown, { cause });
  } finally {
    clearTimeout(timer);
    opening = false;
  }
  return cluster as unknown as Redis;
}
