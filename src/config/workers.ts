/**
 * A worker's effective settings: its hornets.json entry, then the `daemon` section (where the seed's
 * environment variables have already landed, see env.ts), in milliseconds.
 */
import { durationMs, type HornetsConfig, type WorkerConfig } from './schema.js';
import type { BreakerPolicy, WorkerRetryPolicy } from '../domain/worker-policy.js';

export interface WorkerSettings {
  name: string;
  profile: string;
  /** Absolute or hornets.json-relative directory for runs whose task names none; null: a scratch one per task. */
  worktree: string | null;
  maxConcurrent: number;
  timeoutMs: number;
  maxRetries: number;
  retry: WorkerRetryPolicy;
  breaker: BreakerPolicy;
  env: Record<string, string>;
}

/** Jitter takes up to this share off each retry delay. */
export const WORKER_RETRY_JITTER = 0.2;

export function workerSettings(config: HornetsConfig, w: WorkerConfig): WorkerSettings {
  const d = config.daemon;
  return {
    name: w.name,
    profile: w.profile,
    worktree: w.worktree ?? null,
    maxConcurrent: w.maxConcurrent ?? d.maxConcurrentTasks,
    timeoutMs: durationMs(w.timeout ?? d.taskTimeout),
    maxRetries: w.maxRetries ?? d.taskMaxRetries,
    retry: {
      initialDelayMs: durationMs(w.initialRetryDelay ?? d.workerInitialRetryDelay),
      multiplier: w.retryBackoff ?? d.workerRetryBackoff,
      maxDelayMs: durationMs(d.workerRetryDelayMax),
      jitter: WORKER_RETRY_JITTER,
    },
    breaker: {
      threshold: w.breakerThreshold ?? d.workerBreakerThreshold,
      openMs: durationMs(w.breakerTimeout ?? d.workerBreakerTimeout),
    },
    env: w.env ?? {},
  };
}

export function allWorkerSettings(config: HornetsConfig): WorkerSettings[] {
  return config.workers.map((w) => workerSettings(config, w));
}
