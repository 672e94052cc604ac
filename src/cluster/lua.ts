/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not know it (first use,
 * or a restarted redis-server, whose script cache is empty). Nothing is registered on the shared
 * client (no defineCommand), so several modules can share one connection.
 */
import { createHash } from 'node:crypto';
import { type Redis } from 'ioredis';

export class LuaScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** An error's message for a log line, without a URL's password (ioredis quotes none, but be safe). */
export function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/(rediss?:\/\/)[^@\s/]*@/g, '$1***@');
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
