/** Input checks every backend applies identically, so errors read the same whatever the store. */
import { QueueError } from '../errors.js';
import type { EnqueueInput } from '../domain/message.js';
import { isValidPriority, PRIORITY_MAX, PRIORITY_MIN } from '../domain/priority.js';
import type { QueueLimits } from './store.js';

export const DEFAULT_PRIORITY = 5;
export const MAX_KEY_LENGTH = 256;
export const MAX_SENDER_LENGTH = 128;
export const MAX_ATTEMPTS_LIMIT = 100;

export interface NormalizedEnqueue {
  agent: string;
  body: string;
  priority: number;
  key: string | null;
  ttlMs: number | null;
  sender: string | null;
  maxAttempts: number;
  meta: string | null;
}

/** Exact bytes, with KiB beside them: a rounded figure made "is 256 KiB; the limit is 256 KiB" when one byte over. */
function formatBytes(n: number): string {
  return n >= 1024 ? `${n} bytes (${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB)` : `${n} bytes`;
}

export function normalizeEnqueue(input: EnqueueInput, limits: QueueLimits): NormalizedEnqueue {
  if (input === null || typeof input !== 'object') throw new QueueError('invalid_input', 'message must be an object');
  if (typeof input.agent !== 'string' || input.agent.length === 0) {
    throw new QueueError('unknown_agent', 'message has no agent');
  }
  if (typeof input.body !== 'string' || input.body.trim().length === 0) {
    throw new QueueError('empty_body', `message for ${input.agent} is empty`);
  }
  const bytes = Buffer.byteLength(input.body, 'utf8');
  if (bytes > limits.maxBodyBytes) {
    throw new QueueError('body_too_large', `message for ${input.agent} is ${formatBytes(bytes)}; the limit is ${formatBytes(limits.maxBodyBytes)}`, { bytes, limit: limits.maxBodyBytes });
  }
  const priority = input.priority ?? DEFAULT_PRIORITY;
  if (!isValidPriority(priority)) {
    throw new QueueError('invalid_priority', `invalid priority ${String(priority)}: expected an integer ${PRIORITY_MIN}–${PRIORITY_MAX}`);
  }
  const key = input.key ?? null;
  if (key !== null && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
    throw new QueueError('invalid_input', `idempotency key must be 1–${MAX_KEY_LENGTH} characters`);
  }
  const ttlMs = input.ttlMs ?? null;
  if (ttlMs !== null && (!Number.isFinite(ttlMs) || ttlMs <= 0)) {
    throw new QueueError('invalid_input', `ttl must be a positive duration, got ${String(ttlMs)}`);
  }
  const sender = input.sender ?? null;
  if (sender !== null && (typeof sender !== 'string' || sender.length > MAX_SENDER_LENGTH)) {
    throw new QueueError('invalid_input', `sender must be at most ${MAX_SENDER_LENGTH} characters`);
  }
  const maxAttempts = input.maxAttempts ?? limits.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw new QueueError('invalid_input', `maxAttempts must be an integer 1–${MAX_ATTEMPTS_LIMIT}`);
  }
  let meta: string | null = null;
  if (input.meta !== undefined && input.meta !== null) {
    if (typeof input.meta !== 'object' || Array.isArray(input.meta)) throw new QueueError('invalid_input', 'meta must be a JSON object');
    meta = JSON.stringify(input.meta);
  }
  return { agent: input.agent, body: input.body, priority, key, ttlMs: ttlMs === null ? null : Math.round(ttlMs), sender, maxAttempts, meta };
}

export function queueFullError(agent: string, pending: number, limit: number): QueueError {
  return new QueueError('queue_full', `queue for ${agent} is full: ${pending} pending messages, limit ${limit} (raise queue.maxDepth in hornets.json or wait for deliveries)`, {
    agent,
    pending,
    limit,
  });
}
