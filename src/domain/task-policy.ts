/**
 * The task checks as pure functions (the task watcher only reads the store, asks these, and
 * applies the answer): which task of an agent gets the agent next, what one task's next step is
 * (running, completed, timed out, its message lost), and whether a failed attempt retries.
 *
 * One task per agent at a time: an agent answers a turn with one final message, and that message
 * becomes the result of the task whose message it got. If several task messages reached it in one
 * turn, every one of them would get that same final message as its result (issue 9, defect 5), so
 * the next task's message is only released once the previous task of the agent has ended (or
 * waits for a retry).
 */
import type { MessageState } from './message.js';
import type { Task } from './task.js';
import { retryDelayMs, type BackoffPolicy } from './retry.js';
import { formatDuration } from './duration.js';

export type TaskFailureKind = 'timeout' | 'dead' | 'expired' | 'cancelled' | 'missing' | 'enqueue';

/** What a check needs of the attempt's message. */
export interface TaskMessageView {
  id: string;
  state: MessageState;
  deliveredAt: number | null;
  lastError: string | null;
  deadReason: string | null;
}

/** A task holds its agent while its message is out (queued with a message, or running). */
export function holdsAgent(t: Pick<Task, 'state' | 'messageId'>): boolean {
  return t.state === 'running' || (t.state === 'queued' && t.messageId !== null);
}

/** Waiting for the agent: taken in but no message yet, or its retry backoff is over. */
export function wantsAgent(t: Pick<Task, 'state' | 'messageId' | 'retryAt'>, now: number): boolean {
  return (t.state === 'queued' && t.messageId === null) || (t.state === 'retrying' && t.retryAt !== null && t.retryAt <= now);
}

/**
 * The task whose message goes to `tasks`' agent next, or null: none while another task holds the
 * agent; otherwise the highest priority, then the oldest, then the smallest id (deterministic).
 */
export function nextTaskToStart<T extends Pick<Task, 'taskId' | 'state' | 'messageId' | 'retryAt' | 'priority' | 'createdAt'>>(tasks: readonly T[], now: number): T | null {
  if (tasks.some(holdsAgent)) return null;
  const ready = tasks.filter((t) => wantsAgent(t, now));
  ready.sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  return ready[0] ?? null;
}

export type TaskStep =
  /** Nothing to do now. */
  | { kind: 'wait' }
  /** running -> queued: the message went back to the queue (session ended) before the agent finished. */
  | { kind: 'requeued' }
  /** queued -> running: the message reached the agent; the timeout runs from the delivery. */
  | { kind: 'running'; startedAt: number; deadlineAt: number }
  /** The agent stopped after the delivery: its final message is the result. */
  | { kind: 'completed' }
  /** This attempt failed; retryDecision says whether another follows. */
  | { kind: 'attempt_failed'; failure: TaskFailureKind; reason: string }
  /** The task ends failed whatever its retries (its message was cancelled by someone). */
  | { kind: 'failed'; failure: TaskFailureKind; reason: string };

/**
 * The next step of one open task that has a message (`message` null: that message no longer
 * exists). Apply it and ask again until `wait`: a check can take a task from queued through
 * running to completed in one pass.
 *
 * Completion attribution: the agent's last Stop (`lastStopAt`) counts for this task only if it
 * came after this attempt's message was delivered. A Stop at the same millisecond as the delivery
 * is the Stop hook that handed the message over, not the end of the work on it.
 */
export function nextTaskStep(
  t: Pick<Task, 'state' | 'startedAt' | 'deadlineAt' | 'timeoutMs' | 'attempts' | 'messageId'>,
  message: TaskMessageView | null,
  lastStopAt: number | null,
  now: number,
): TaskStep {
  if (t.state !== 'queued' && t.state !== 'running') return { kind: 'wait' };
  if (t.messageId === null) return { kind: 'wait' };
  if (!message) return { kind: 'attempt_failed', failure: 'missing', reason: `its message ${t.messageId} no longer exists` };
  const m = message;
  if (m.state === 'cancelled') return { kind: 'failed', failure: 'cancelled', reason: `its message ${m.id} was cancelled${m.lastError ? ` (${m.lastError})` : ''}` };
  if (m.state === 'dead') return { kind: 'attempt_failed', failure: 'dead', reason: `its message ${m.id} was dead-lettered: ${m.deadReason ?? m.lastError ?? 'no reason recorded'}` };
  if (m.state === 'expired') return { kind: 'attempt_failed', failure: 'expired', reason: `its message ${m.id} expired before delivery` };

  const delivered = (m.state === 'delivered' || m.state === 'confirmed') && m.deliveredAt !== null;
  if (t.state === 'running' && (!delivered || m.deliveredAt !== t.startedAt)) return { kind: 'requeued' };
  if (t.state === 'queued') return delivered ? { kind: 'running', startedAt: m.deliveredAt!, deadlineAt: m.deliveredAt! + t.timeoutMs } : { kind: 'wait' };

  if (lastStopAt !== null && lastStopAt > m.deliveredAt!) return { kind: 'completed' };
  if (t.deadlineAt !== null && now >= t.deadlineAt) {
    return { kind: 'attempt_failed', failure: 'timeout', reason: `timed out after ${formatDuration(t.timeoutMs)} (attempt ${t.attempts})` };
  }
  return { kind: 'wait' };
}

export type RetryDecision = { retry: true; retryAt: number; delayMs: number } | { retry: false; reason: string };

/** After a failed attempt: retry with backoff while attempts ≤ max_retries, else the final reason. */
export function retryDecision(t: Pick<Task, 'attempts' | 'maxRetries'>, reason: string, now: number, backoff: BackoffPolicy, random: () => number): RetryDecision {
  if (t.attempts <= t.maxRetries) {
    const delayMs = retryDelayMs(t.attempts, backoff, random);
    return { retry: true, retryAt: now + delayMs, delayMs };
  }
  return { retry: false, reason: t.maxRetries > 0 ? `${reason}; gave up after ${t.attempts} attempts` : reason };
}
