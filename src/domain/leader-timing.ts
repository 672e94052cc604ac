/**
 * Timing of the leader election of a Redis team (issue 12), from the one setting the operator
 * gives (daemon.leaderLease). The holder renews three times per lease, so one lost renewal does not
 * depose it; candidates retry at most every second, so a dead leader's successor waits at most one
 * retry past the lease's expiry: `takeoverMs` is the bound the README promises.
 */
export const MIN_LEADER_LEASE_MS = 1_000;
export const MAX_LEADER_LEASE_MS = 300_000;
const MAX_RETRY_MS = 1_000;

export interface LeaderTiming {
  leaseMs: number;
  renewMs: number;
  retryMs: number;
  /** A leader that dies is replaced within this (plus a round trip to Redis). */
  takeoverMs: number;
}

export function leaderTiming(leaseMs: number): LeaderTiming {
  if (!Number.isInteger(leaseMs) || leaseMs < MIN_LEADER_LEASE_MS || leaseMs > MAX_LEADER_LEASE_MS) {
    throw new RangeError(`leader lease must be ${MIN_LEADER_LEASE_MS}–${MAX_LEADER_LEASE_MS} ms, got ${leaseMs}`);
  }
  const renewMs = Math.floor(leaseMs / 3);
  const retryMs = Math.min(MAX_RETRY_MS, renewMs);
  return { leaseMs, renewMs, retryMs, takeoverMs: leaseMs + retryMs };
}
