/**
 * Opening the Redis connection: bounded in time, typed errors that name what was wrong and never
 * the password.
 */
import { Redis } from 'ioredis';
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
  url: string;
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export async function connectRedis(options: ConnectOptions): Promise<Redis> {
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
