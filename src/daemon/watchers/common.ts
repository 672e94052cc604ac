/** What trigger, task and pipe intake share: hornets.json defaults and input parsing. */
import * as z from 'zod';
import { durationMs, type HornetsConfig } from '../../config/schema.js';
import { isValidPriority, parsePriority, PRIORITY_MAX, PRIORITY_MIN } from '../../domain/priority.js';
import { QueueError, errorMessage } from '../../errors.js';

export type WatcherConfig = Pick<HornetsConfig, 'agents' | 'defaults'>;

/** Priority and TTL a message to `agent` gets when the input names none (as QueueService.send). */
export function messageDefaults(config: WatcherConfig, agent: string): { priority: number; ttlMs: number | null } {
  const cfg = config.agents.find((a) => a.name === agent);
  const ttl = cfg?.ttl ?? config.defaults.ttl;
  return { priority: cfg?.priority ?? config.defaults.priority, ttlMs: ttl !== undefined ? durationMs(ttl) : null };
}

export const priorityInput = z.union([z.number(), z.string()]);
export const durationInput = z.union([z.string(), z.number()]);

/** A priority from a file: an integer 0–200 or a band name; throws a readable message. */
export function readPriority(v: number | string): number {
  if (typeof v === 'number') {
    if (!isValidPriority(v)) throw new Error(`priority ${v} is invalid: expected an integer ${PRIORITY_MIN}–${PRIORITY_MAX} or a name (low, normal, high, critical, emergency)`);
    return v;
  }
  try {
    return parsePriority(v);
  } catch (err) {
    throw new Error(errorMessage(err));
  }
}

/** A duration from a file: "30s", "5m", … or a number of seconds. */
export function readDuration(v: string | number, what: string): number {
  if (typeof v === 'number') {
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${what} must be a positive number of seconds or a duration such as "30s", got ${v}`);
    return Math.round(v * 1000);
  }
  try {
    return durationMs(v);
  } catch {
    throw new Error(`${what} "${v}" is not a duration: expected e.g. "30s", "5m", "2h" or a number of seconds`);
  }
}

/** zod issues as one line: `field: problem; field: problem`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(file)'}: ${i.message}`).join('; ');
}

/** Store errors that mean the input itself is bad (dead-letter it) rather than a transient failure (try again). */
export function isPermanentQueueError(err: unknown): boolean {
  return err instanceof QueueError && ['empty_body', 'body_too_large', 'invalid_priority', 'invalid_input', 'unknown_agent'].includes(err.code);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
