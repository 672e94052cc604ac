/** Constants and inputs shared by the kill -9 harness (kill9.ts) and its workers (kill9-worker.ts). */
import type { EnqueueInput } from '../../src/domain/message.js';

export const KILL9_AGENT = 'worker';
export const KILL9_LEASE_MS = 200;
export const KILL9_LIMITS = { maxDepth: 200_000, backoffBaseMs: 20, backoffMaxMs: 200, maxAttempts: 8 };
export const KILL9_DB = 'hornets.db';

/** Deterministic from the key, so a restarted producer can replay an in-doubt enqueue exactly. */
export function kill9Input(key: string): EnqueueInput {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  return {
    agent: KILL9_AGENT,
    key,
    body: `kill9 message ${key}`,
    priority: h % 10,
    // A few messages get a small attempt budget (so some end dead) or a short TTL (so some expire).
    maxAttempts: h % 10 === 3 ? 2 : KILL9_LIMITS.maxAttempts,
    ttlMs: h % 25 === 7 ? 1_500 : null,
  };
}
