/**
 * The checks every WorkerTaskStore backend makes of its input, with the same errors (the
 * conformance suite runs one set of tests against SQLite and Redis).
 */
import { QueueError } from '../errors.js';
import { isValidPriority } from '../domain/priority.js';
import type { WorkerTaskInput } from '../domain/worker-task.js';
import type { SavedBreaker } from './store.js';

/** Longest last_error kept on a task. */
export const WORKER_ERROR_CHARS = 2000;

export function checkWorkerTaskInput(input: WorkerTaskInput): void {
  if (typeof input.taskId !== 'string' || input.taskId.length === 0) throw new QueueError('invalid_input', 'task has no task_id');
  if (typeof input.description !== 'string' || input.description.trim().length === 0) throw new QueueError('empty_body', `task ${input.taskId} has an empty description`);
  if (!isValidPriority(input.priority)) throw new QueueError('invalid_priority', `invalid priority ${String(input.priority)} for task ${input.taskId}`);
  if (!Number.isFinite(input.timeoutMs) || input.timeoutMs <= 0) throw new QueueError('invalid_input', `task ${input.taskId}: timeout must be positive`);
  if (!Number.isInteger(input.maxRetries) || input.maxRetries < 0) throw new QueueError('invalid_input', `task ${input.taskId}: max_retries must be a whole number ≥ 0`);
}

export function checkSavedBreaker(worker: string, b: SavedBreaker): void {
  if (!['closed', 'open', 'half_open'].includes(b.state)) throw new QueueError('invalid_input', `invalid breaker state "${String(b.state)}" for worker ${worker}`);
  if (!Number.isInteger(b.failures) || b.failures < 0) throw new QueueError('invalid_input', `invalid breaker failure count for worker ${worker}`);
}

/** A claim's or renewal's numbers, checked the same way by every backend. */
export function checkLeaseMs(leaseMs: number): void {
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new QueueError('invalid_input', `a worker run lease must be positive, got ${String(leaseMs)}`);
}

export function checkClaim(claim: { holder: string; limit: number; leaseMs: number }): void {
  if (typeof claim.holder !== 'string' || claim.holder.length === 0) throw new QueueError('invalid_input', 'a worker run claim needs a holder');
  if (!Number.isInteger(claim.limit) || claim.limit < 0) throw new QueueError('invalid_input', `a worker run claim's limit must be a whole number ≥ 0, got ${String(claim.limit)}`);
  checkLeaseMs(claim.leaseMs);
}
