/** What trigger, task and pipe intake share: hornets.json defaults and input parsing. */
import { durationMs, type HornetsConfig } from '../../config/schema.js';
import { QueueError } from '../../errors.js';

// Parsing shared with the CLI (task add), which must not import the daemon.
export { TASK_ID_RE, durationInput, formatIssues, isObject, priorityInput, readDuration, readPriority } from '../../config/file-input.js';

export type WatcherConfig = Pick<HornetsConfig, 'agents' | 'defaults'>;

/** Priority and TTL a message to `agent` gets when the input names none (as QueueService.send). */
export function messageDefaults(config: WatcherConfig, agent: string): { priority: number; ttlMs: number | null } {
  const cfg = config.agents.find((a) => a.name === agent);
  const ttl = cfg?.ttl ?? config.defaults.ttl;
  return { priority: cfg?.priority ?? config.defaults.priority, ttlMs: ttl !== undefined ? durationMs(ttl) : null };
}

/** Store errors that mean the input itself is bad (dead-letter it) rather than a transient failure (try again). */
export function isPermanentQueueError(err: unknown): boolean {
  return err instanceof QueueError && ['empty_body', 'body_too_large', 'invalid_priority', 'invalid_input', 'unknown_agent'].includes(err.code);
}
