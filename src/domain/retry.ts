/** Retry backoff for failed deliveries: exponential, capped, with full jitter in the upper half. */

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 2_000, maxMs: 300_000 };

/**
 * Delay before the next attempt after `attempt` attempts have failed (attempt ≥ 1).
 * Jitter keeps many messages failing together from retrying in lock-step; `random` is
 * injected so tests are deterministic.
 */
export function retryDelayMs(attempt: number, policy: BackoffPolicy = defaultBackoff, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const half = exp / 2;
  return Math.round(half + random() * half);
}
