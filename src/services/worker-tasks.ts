/**
 * The operator's side of task workers (issue 14): list tasks with their state and the workers'
 * breaker and slots (from their heartbeat files), queue a task (a file into tasks/<worker>/, the one
 * way in, so the engine takes it as any dropped file), cancel an open task, put a failed or
 * cancelled one back. The engine notices a cancel within a second, a requeue within a second
 * (five when it has nothing to do).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QueueError, UsageError } from '../errors.js';
import { isWorkerTaskStore, type WorkerTaskStore } from '../queue/store.js';
import type { WorkerTask, WorkerTaskState } from '../domain/worker-task.js';
import type { ProjectContext } from './context.js';

/** The worker task store of a store that has one (SQLite); null otherwise (the Redis store has none yet). */
export function workerTaskStoreOf(store: unknown): WorkerTaskStore | null {
  const inner = (store as { workerTasks?: unknown }).workerTasks;
  return isWorkerTaskStore(inner) ? inner : null;
}

export interface WorkerView {
  name: string;
  maxConcurrent: number | null;
  /** From the worker's heartbeat: null when the engine never wrote one. */
  heartbeat: WorkerHeartbeat | null;
}

export interface WorkerHeartbeat {
  at: string;
  state: string;
  activeTasks: number;
  queueDepth: number;
  breaker: 'closed' | 'open' | 'half-open';
  /** Open: when the half-open trial may start (epoch ms); null otherwise or from an older engine. */
  halfOpenAt: number | null;
}

/** A worker's heartbeat file as the engine writes it (daemon workerHeartbeats); null when absent or unreadable. */
export function readWorkerHeartbeat(heartbeatsDir: string, worker: string): WorkerHeartbeat | null {
  const file = join(heartbeatsDir, `${worker}.json`);
  if (!existsSync(file)) return null;
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as {
      timestamp: number;
      time?: unknown;
      state: string;
      active_tasks: number;
      queue_depth: number;
      breaker?: unknown;
      breaker_half_open_at?: unknown;
    };
    // Engines before the console's tasks view wrote the breaker in the state only.
    const named = typeof h.breaker === 'string' ? h.breaker : (/breaker (open|half-open)/.exec(h.state)?.[1] ?? 'closed');
    const breaker = named === 'open' || named === 'half-open' ? named : 'closed';
    const halfOpenAt = typeof h.breaker_half_open_at === 'number' ? h.breaker_half_open_at : null;
    // `timestamp` is in epoch seconds (the seeds' probes read it so); `time` is its ISO 8601 form.
    const at = typeof h.time === 'string' ? h.time : new Date(Number(h.timestamp) * 1000).toISOString();
    return { at, state: h.state, activeTasks: h.active_tasks, queueDepth: h.queue_depth, breaker, halfOpenAt };
  } catch {
    return null;
  }
}

/** Each configured worker with its heartbeat (the engine writes it every interval and when a breaker changes). */
export function readWorkerViews(project: ProjectContext['project']): WorkerView[] {
  return project.config.workers.map((w) => ({
    name: w.name,
    maxConcurrent: w.maxConcurrent ?? project.config.daemon.maxConcurrentTasks,
    heartbeat: readWorkerHeartbeat(project.paths.heartbeats, w.name),
  }));
}

export interface AddTaskInput {
  worker: string;
  description: string;
  taskId?: string;
  from?: string;
  metadata?: Record<string, unknown>;
  priority?: number;
  timeout?: string;
  maxRetries?: number;
  worktree?: string;
}

const TASK_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class WorkerTaskService {
  private readonly store: WorkerTaskStore;

  constructor(private readonly ctx: ProjectContext) {
    const s = workerTaskStoreOf(ctx.store);
    if (!s) throw new UsageError('task workers need the SQLite store for now (this project uses Redis)');
    this.store = s;
  }

  workerNames(): string[] {
    return this.ctx.project.config.workers.map((w) => w.name);
  }

  list(filter: { worker?: string; states?: WorkerTaskState[]; limit?: number } = {}): Promise<WorkerTask[]> {
    if (filter.worker !== undefined) this.checkWorker(filter.worker);
    return this.store.listWorkerTasks(filter);
  }

  workers(): WorkerView[] {
    return readWorkerViews(this.ctx.project);
  }

  /** Writes the task file (aside, then renamed into place); returns the task id. */
  add(input: AddTaskInput): string {
    this.checkWorker(input.worker);
    if (input.description.trim() === '') throw new UsageError('the task needs a description');
    const taskId = input.taskId ?? `task-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
    if (!TASK_ID_RE.test(taskId)) throw new UsageError(`invalid task id "${taskId}": letters, digits, ".", "_" or "-", starting with a letter or digit, at most 128`);
    const dir = join(this.ctx.project.paths.tasks, input.worker);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${taskId}.json`);
    if (existsSync(file)) throw new UsageError(`a task file ${file} is already waiting`);
    const body = {
      task_id: taskId,
      description: input.description,
      worker: input.worker,
      ...(input.metadata ? { metadata: input.metadata } : {}),
      ...(input.from ? { from: input.from } : {}),
      ...(input.priority !== undefined ? { priority: input.priority } : {}),
      ...(input.timeout ? { timeout: input.timeout } : {}),
      ...(input.maxRetries !== undefined ? { max_retries: input.maxRetries } : {}),
      ...(input.worktree ? { worktree: input.worktree } : {}),
    };
    const tmp = join(dir, `.${taskId}.json.tmp-${process.pid}`);
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
    return taskId;
  }

  async cancel(taskId: string, reason = 'cancelled by the operator'): Promise<WorkerTask> {
    return this.store.cancelWorkerTask(taskId, reason).catch((err: unknown) => {
      throw this.explain(err, taskId, 'cancel');
    });
  }

  async retry(taskId: string): Promise<WorkerTask> {
    return this.store.requeueWorkerTask(taskId).catch((err: unknown) => {
      throw this.explain(err, taskId, 'retry');
    });
  }

  private explain(err: unknown, taskId: string, what: string): Error {
    if (err instanceof QueueError && err.code === 'not_found') return new UsageError(`no worker task "${taskId}"`);
    if (err instanceof QueueError && err.code === 'invalid_state') return new UsageError(`cannot ${what} task ${taskId}: ${err.message}`);
    return err instanceof Error ? err : new Error(String(err));
  }

  private checkWorker(worker: string): void {
    if (!this.workerNames().includes(worker)) throw new UsageError(`unknown worker "${worker}" (workers: ${this.workerNames().join(', ') || 'none in hornets.json'})`);
  }
}
