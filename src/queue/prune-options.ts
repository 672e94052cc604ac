/** Retention options every backend checks identically (shared by the SQLite and Redis stores). */
import { QueueError } from '../errors.js';
import { MIN_PRUNE_AGE_MS, type PruneOptions } from './store.js';

const DEFAULT_BATCH = 500;

export function checkPruneOptions(options: PruneOptions): { olderThanMs: number; batchSize: number } {
  const age = options.olderThanMs;
  if (typeof age !== 'number' || !Number.isFinite(age) || age < MIN_PRUNE_AGE_MS) {
    throw new QueueError('invalid_input', `prune age must be at least 1h (the engine keeps the last hour of restarts to count them), got ${typeof age === 'number' ? `${age} ms` : String(age)}`);
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw new QueueError('invalid_input', `prune batch size must be 1–100000, got ${batchSize}`);
  return { olderThanMs: age, batchSize };
}
