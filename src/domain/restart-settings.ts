/**
 * The restart policy's settings: what hornets.json and the environment configure (src/config) and
 * what the pure policy in src/recovery/restart-policy.ts reads. Data only, so config never imports
 * recovery.
 */

export interface RestartPolicy {
  /** Restarts allowed per rolling window. */
  maxRestarts: number;
  windowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Back-off for API errors (rate limit, overload): wait, do not restart. */
  apiBackoffMs: number;
  /** An agent that stays up this long after a restart counts as healthy again. */
  healthyAfterMs: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  maxRestarts: 3,
  windowMs: 3_600_000,
  backoffBaseMs: 2_000,
  backoffMaxMs: 300_000,
  apiBackoffMs: 60_000,
  healthyAfterMs: 60_000,
};
