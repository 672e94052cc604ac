/**
 * Task life cycle: `queued` (its message waits) -> `running` (the message reached the agent; the
 * timeout runs) -> `completed`, or on a timeout / dead message `retrying` (backoff) -> `queued`
 * again with a new message, until the retries run out: `failed`.
 */
export const taskStates = ['queued', 'running', 'retrying', 'completed', 'failed'] as const;
export type TaskState = (typeof taskStates)[number];
export const openTaskStates: readonly TaskState[] = ['queued', 'running', 'retrying'];

export interface Task {
  taskId: string;
  agent: string;
  description: string;
  priority: number;
  timeoutMs: number;
  maxRetries: number;
  /** Orchestrator agent to notify, or null. */
  from: string | null;
  state: TaskState;
  /** Attempts started (one message each). */
  attempts: number;
  /** Message of the current attempt. */
  messageId: string | null;
  /** When the current attempt reached the agent. */
  startedAt: number | null;
  deadlineAt: number | null;
  retryAt: number | null;
  result: string | null;
  lastError: string | null;
  /** The task file as dropped. */
  source: string | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
}

export interface TaskCreateInput {
  taskId: string;
  agent: string;
  description: string;
  priority: number;
  timeoutMs: number;
  maxRetries: number;
  from?: string | null;
  source?: string | null;
}

export interface TaskFilter {
  agent?: string;
  states?: TaskState[];
  limit?: number;
}
