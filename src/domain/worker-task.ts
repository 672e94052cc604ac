import type { RunUsage, TaskUsage } from './run-usage.js';

/**
 * A task of a worker (seed 003): one durable row per task, run as one one-shot process per
 * attempt. `queued` -> `running` (a run is out) -> `completed`; a failed run -> `retrying` (backoff)
 * -> `running` again, until the retries run out: `failed` (and the DLQ). The operator may cancel an
 * open task (`cancelled`) and put a failed or cancelled one back (`queued`).
 */
export const workerTaskStates = ['queued', 'running', 'retrying', 'completed', 'failed', 'cancelled'] as const;
export type WorkerTaskState = (typeof workerTaskStates)[number];
export const openWorkerTaskStates: readonly WorkerTaskState[] = ['queued', 'running', 'retrying'];
export const endedWorkerTaskStates: readonly WorkerTaskState[] = ['completed', 'failed', 'cancelled'];

/**
 * How one run ended. `lost`: the run never reported an end (its window vanished with the tmux
 * server, or the engine died before it was started) — it is run again without counting against the
 * retries or the breaker, since the task itself did not fail.
 */
export const attemptOutcomes = ['completed', 'failed', 'timeout', 'crashed', 'lost', 'cancelled'] as const;
export type AttemptOutcome = (typeof attemptOutcomes)[number];

export interface WorkerAttempt {
  attempt: number;
  runId: string;
  outcome: AttemptOutcome;
  exitCode: number | null;
  signal: string | null;
  startedAt: number;
  endedAt: number;
  error: string | null;
  /** Tokens and cost of the run, as its output reported them (run-usage.ts); absent or null when it reported none. */
  usage?: RunUsage | null;
}

export interface WorkerTask {
  taskId: string;
  worker: string;
  description: string;
  /** The task file's `metadata`, as JSON text, or null. */
  metadata: string | null;
  /** Directory the task asked to run in, or null. */
  worktree: string | null;
  /** Agent to tell the result, or null. */
  from: string | null;
  priority: number;
  timeoutMs: number;
  maxRetries: number;
  state: WorkerTaskState;
  /** Runs started. */
  attempts: number;
  /** The run that is out (running), else the last one. */
  runId: string | null;
  startedAt: number | null;
  deadlineAt: number | null;
  retryAt: number | null;
  history: WorkerAttempt[];
  /** Failed runs before the operator's last requeue, which no longer count against maxRetries. */
  failuresBase: number;
  /** Tokens and cost summed over its recorded runs, each run id once (taskUsageOf). */
  usage: TaskUsage;
  /** The final text of the run that completed it. */
  result: string | null;
  lastError: string | null;
  source: string | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  /** Who holds the run that is out (a claimed run), until when; null for runs started without a lease and for tasks with no run out. */
  lease: WorkerLease | null;
}

/**
 * A claimed run's lease: the engine (`holder`, its node's name) renews it while the run goes; once it
 * lapses another engine may take the task over. `token` grows with every claim of the task, and a
 * run's end is applied only with the token it was claimed with, so an engine that lost its lease
 * cannot end (or complete) the run that replaced its own.
 */
export interface WorkerLease {
  holder: string;
  token: number;
  expiresAt: number;
}

/** What a claim hands the claiming engine. */
export interface WorkerClaim {
  /** Runs it must start now (state running, a new run id, leased to it). */
  started: WorkerTask[];
  /**
   * Runs whose holder's lease lapsed (an engine that died or was cut off), now leased to the claimer
   * under a new token: it records their end (lost, unless the run is its own and still going).
   */
  orphans: WorkerTask[];
}

export interface WorkerTaskInput {
  taskId: string;
  worker: string;
  description: string;
  metadata?: string | null;
  worktree?: string | null;
  from?: string | null;
  priority: number;
  timeoutMs: number;
  maxRetries: number;
  source?: string | null;
}

export interface WorkerTaskFilter {
  worker?: string;
  states?: WorkerTaskState[];
  limit?: number;
  /** Oldest first (the default), or the newest first (the limit then keeps the newest). */
  order?: 'oldest' | 'newest';
}

/** What ends a run in the store: the next state and the attempt's record, in one write. */
export type AttemptEnd =
  | { next: 'completed'; attempt: WorkerAttempt; result: string | null }
  | { next: 'retrying'; attempt: WorkerAttempt; retryAt: number }
  | { next: 'failed'; attempt: WorkerAttempt }
  | { next: 'cancelled'; attempt: WorkerAttempt };

/** The run id of attempt n of a task: also its tmux window name and its run directory. */
export function runIdOf(taskId: string, attempt: number): string {
  return `${taskId}.a${attempt}`;
}

/** Failed attempts that count against the retries and the breaker (a lost run does not). */
export function countedFailures(history: readonly WorkerAttempt[]): number {
  return history.filter((a) => a.outcome === 'failed' || a.outcome === 'timeout' || a.outcome === 'crashed').length;
}

/** Failed runs that count against the task's retries now (those before a requeue do not). */
export function failuresSinceRequeue(t: Pick<WorkerTask, 'history' | 'failuresBase'>): number {
  return Math.max(0, countedFailures(t.history) - t.failuresBase);
}

/**
 * Which due task of a worker runs next: highest priority, then oldest, then smallest id. Queued
 * tasks are due at once, retrying ones when their backoff is over.
 */
export function nextDueTasks<T extends Pick<WorkerTask, 'taskId' | 'state' | 'retryAt' | 'priority' | 'createdAt'>>(tasks: readonly T[], now: number, limit: number): T[] {
  const due = tasks.filter((t) => t.state === 'queued' || (t.state === 'retrying' && (t.retryAt ?? 0) <= now));
  due.sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  return due.slice(0, Math.max(0, limit));
}

/** The soonest retry of a worker's retrying tasks, or null. */
export function nextRetryAt(tasks: readonly Pick<WorkerTask, 'state' | 'retryAt'>[]): number | null {
  let min: number | null = null;
  for (const t of tasks) if (t.state === 'retrying' && t.retryAt !== null && (min === null || t.retryAt < min)) min = t.retryAt;
  return min;
}
