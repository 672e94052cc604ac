/**
 * SQLite implementation of TaskStore: one row per task in `tasks`, each transition guarded on the
 * task's current state and logged as an agent-level event.
 */
import { QueueError } from '../../errors.js';
import { isValidPriority } from '../../domain/priority.js';
import { type Task, type TaskCreateInput, type TaskFilter, type TaskState, openTaskStates, taskStates } from '../../domain/task.js';
import type { TaskStore } from '../store.js';
import type { SqliteConnection } from './connection.js';
import { agentStateWhere } from './statements.js';
import { toTask, type TaskRow } from './rows.js';

export class SqliteTaskStore implements TaskStore {
  constructor(private readonly c: SqliteConnection) {}

  private taskRow(taskId: string): TaskRow {
    const row = this.c.stmts.getTask.get(taskId) as TaskRow | undefined;
    if (!row) throw new QueueError('not_found', `no task with id "${taskId}"`, { taskId });
    return row;
  }

  /** One guarded transition: throws invalid_state unless the task is in one of `from`. */
  private taskTransition(
    taskId: string,
    from: readonly TaskState[],
    kind: string,
    apply: (row: TaskRow, now: number) => Record<string, unknown>,
    detail: Record<string, unknown> = {},
    unchangedIf?: (row: TaskRow) => boolean,
  ): Task {
    return this.c.write(() => {
      const now = this.c.now();
      const row = this.taskRow(taskId);
      if (unchangedIf?.(row)) return toTask(row);
      if (!from.includes(row.state as TaskState)) {
        throw new QueueError('invalid_state', `task ${taskId} is ${row.state}; expected ${from.join(' or ')}`, { taskId, state: row.state });
      }
      const set = apply(row, now);
      const cols = Object.keys(set);
      this.c.stmt(`UPDATE tasks SET ${cols.map((c) => `${c} = @${c}`).join(', ')}, updated_at = @now WHERE task_id = @task_id`).run({ ...set, now, task_id: taskId });
      const after = this.taskRow(taskId);
      this.c.event({ agent: row.agent, kind, fromState: row.state, toState: after.state, detail: { task_id: taskId, attempts: after.attempts, ...detail } }, now);
      return toTask(after);
    });
  }

  async createTask(input: TaskCreateInput): Promise<{ task: Task; created: boolean }> {
    if (typeof input.taskId !== 'string' || input.taskId.length === 0) throw new QueueError('invalid_input', 'task has no task_id');
    if (typeof input.description !== 'string' || input.description.trim().length === 0) throw new QueueError('empty_body', `task ${input.taskId} has an empty description`);
    if (!isValidPriority(input.priority)) throw new QueueError('invalid_priority', `invalid priority ${String(input.priority)} for task ${input.taskId}`);
    if (!Number.isFinite(input.timeoutMs) || input.timeoutMs <= 0) throw new QueueError('invalid_input', `task ${input.taskId}: timeout must be positive`);
    if (!Number.isInteger(input.maxRetries) || input.maxRetries < 0) throw new QueueError('invalid_input', `task ${input.taskId}: max_retries must be a whole number ≥ 0`);
    return this.c.write(() => {
      const now = this.c.now();
      const existing = this.c.stmts.getTask.get(input.taskId) as TaskRow | undefined;
      if (existing) return { task: toTask(existing), created: false };
      this.c.agentRow(input.agent);
      this.c.stmts.insertTask.run({
        task_id: input.taskId,
        agent: input.agent,
        description: input.description,
        priority: input.priority,
        timeout_ms: Math.round(input.timeoutMs),
        max_retries: input.maxRetries,
        sender: input.from ?? null,
        source: input.source ?? null,
        now,
      });
      this.c.event({ agent: input.agent, kind: 'task_created', toState: 'queued', detail: { task_id: input.taskId, from: input.from ?? null } }, now);
      return { task: toTask(this.taskRow(input.taskId)), created: true };
    });
  }

  async getTask(taskId: string): Promise<Task | null> {
    return this.c.read(() => {
      const row = this.c.stmts.getTask.get(taskId) as TaskRow | undefined;
      return row ? toTask(row) : null;
    });
  }

  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    const { where, params } = agentStateWhere(filter, taskStates, 'task');
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, task_id LIMIT ${limit}`;
    return this.c.read(() => (this.c.stmt(sql).all(params) as TaskRow[]).map(toTask));
  }

  async startTaskAttempt(taskId: string, messageId: string): Promise<Task> {
    return this.taskTransition(
      taskId,
      ['queued', 'retrying'],
      'task_attempt',
      (row) => ({ state: 'queued', attempts: row.attempts + 1, message_id: messageId, started_at: null, deadline_at: null, retry_at: null }),
      { message_id: messageId },
      // Repeating the same attempt (a crash between enqueue and this call) changes nothing.
      (row) => row.message_id === messageId,
    );
  }

  async markTaskRunning(taskId: string, timing: { startedAt: number; deadlineAt: number }): Promise<Task> {
    return this.taskTransition(taskId, ['queued'], 'task_running', () => ({ state: 'running', started_at: timing.startedAt, deadline_at: timing.deadlineAt }));
  }

  async markTaskWaiting(taskId: string): Promise<Task> {
    return this.taskTransition(taskId, ['running'], 'task_waiting', () => ({ state: 'queued', started_at: null, deadline_at: null }));
  }

  async markTaskRetrying(taskId: string, retry: { error: string; retryAt: number }): Promise<Task> {
    const error = String(retry.error).slice(0, 2000);
    return this.taskTransition(taskId, ['queued', 'running'], 'task_retrying', () => ({ state: 'retrying', retry_at: retry.retryAt, deadline_at: null, last_error: error }), {
      error,
      retryAt: retry.retryAt,
    });
  }

  async markTaskDone(taskId: string, done: { result: string | null }): Promise<Task> {
    return this.taskTransition(taskId, openTaskStates, 'task_completed', (_row, now) => ({ state: 'completed', result: done.result, completed_at: now, deadline_at: null, retry_at: null }));
  }

  async markTaskFailed(taskId: string, failed: { error: string }): Promise<Task> {
    const error = String(failed.error).slice(0, 2000);
    return this.taskTransition(taskId, openTaskStates, 'task_failed', (_row, now) => ({ state: 'failed', last_error: error, completed_at: now, deadline_at: null, retry_at: null }), { error });
  }

  async tasksDueForTimeout(now: number): Promise<Task[]> {
    return this.c.read(() => (this.c.stmts.tasksTimedOut.all({ now }) as TaskRow[]).map(toTask));
  }

  async tasksDueForRetry(now: number): Promise<Task[]> {
    return this.c.read(() => (this.c.stmts.tasksRetryDue.all({ now }) as TaskRow[]).map(toTask));
  }

  async taskCounts(agents?: readonly string[]): Promise<Map<string, Record<TaskState, number>>> {
    const wanted = agents ? new Set(agents) : null;
    return this.c.read(() => {
      const out = new Map<string, Record<TaskState, number>>();
      for (const r of this.c.stmts.taskCounts.all() as { agent: string; state: TaskState; n: number }[]) {
        if (wanted && !wanted.has(r.agent)) continue;
        let c = out.get(r.agent);
        if (!c) {
          c = Object.fromEntries(taskStates.map((st) => [st, 0])) as Record<TaskState, number>;
          out.set(r.agent, c);
        }
        c[r.state] = r.n;
      }
      return out;
    });
  }
}
