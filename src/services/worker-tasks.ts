/**
 * The operator's side of task workers (issue 14): list tasks with their state and the workers'
 * breaker and slots (from their heartbeat files), queue a task, cancel an open task, put a failed
 * or cancelled one back. The engine notices a cancel within a second, a requeue within a second
 * (five when it has nothing to do).
 *
 * On a single host a queued task is a file into tasks/<worker>/ (the one way in, so the engine
 * takes it as any dropped file). On a Redis team the host running the command may run no engine
 * of that worker: the task goes into the store at once (checked as a file would be), and the
 * engines of the nodes that are up are woken to claim it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QueueError, UsageError } from '../errors.js';
import { isWorkerTaskStore, type WorkerTaskStore } from '../queue/store.js';
import type { WorkerTask, WorkerTaskState } from '../domain/worker-task.js';
import { workerSettings } from '../config/workers.js';
import { TASK_ID_RE } from '../config/file-input.js';
import { parseWorkerTask, type WorkerTaskFileInput } from '../config/worker-task-file.js';
import type { ProjectContext } from './context.js';

/** The worker task store of a store that has one (SQLite, Redis); null otherwise. */
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

/**
 * A Redis team's workers as the store says: their runs go on several nodes, so no one heartbeat
 * file has them. Active runs and waiting tasks are the store's counts, the breaker the one the
 * engines share (open past its timeout: half-open, as an engine would see it); `at` is now.
 */
export async function readStoreWorkerHeartbeats(project: ProjectContext['project'], store: WorkerTaskStore, now: number): Promise<Map<string, WorkerHeartbeat>> {
  const [counts, breakers] = await Promise.all([store.workerTaskCounts(), store.workerBreakers()]);
  const out = new Map<string, WorkerHeartbeat>();
  for (const w of project.config.workers) {
    const settings = workerSettings(project.config, w);
    const c = counts.get(w.name);
    const b = breakers.get(w.name);
    const halfOpenAt = b?.state === 'open' && b.openedAt !== null ? b.openedAt + settings.breaker.openMs : null;
    const breaker = b?.state === 'half_open' || (halfOpenAt !== null && halfOpenAt <= now) ? 'half-open' : b?.state === 'open' ? 'open' : 'closed';
    out.set(w.name, {
      at: new Date(now).toISOString(),
      state: breaker === 'closed' ? 'worker' : `worker, breaker ${breaker}`,
      activeTasks: c?.running ?? 0,
      queueDepth: (c?.queued ?? 0) + (c?.retrying ?? 0),
      breaker,
      halfOpenAt: breaker === 'open' ? halfOpenAt : null,
    });
  }
  return out;
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

export class WorkerTaskService {
  private readonly store: WorkerTaskStore;

  constructor(private readonly ctx: ProjectContext) {
    const s = workerTaskStoreOf(ctx.store);
    if (!s) throw new UsageError('this store keeps no worker tasks');
    this.store = s;
  }

  workerNames(): string[] {
    return this.ctx.project.config.workers.map((w) => w.name);
  }

  list(filter: { worker?: string; states?: WorkerTaskState[]; limit?: number } = {}): Promise<WorkerTask[]> {
    if (filter.worker !== undefined) this.checkWorker(filter.worker);
    return this.store.listWorkerTasks(filter);
  }

  /** Each worker's runs, waiting tasks and breaker: its engine's heartbeat file on one host, the store on a Redis team (runs on every node). */
  async workers(): Promise<WorkerView[]> {
    if (this.ctx.selection.kind !== 'redis') return readWorkerViews(this.ctx.project);
    const beats = await readStoreWorkerHeartbeats(this.ctx.project, this.store, Date.now());
    return readWorkerViews(this.ctx.project).map((v) => ({ ...v, heartbeat: beats.get(v.name) ?? null }));
  }

  /**
   * Queues a task; returns its id. Single host: writes the task file (aside, then renamed into
   * place). Redis team: creates the task in the store and wakes the nodes' engines.
   */
  async add(input: AddTaskInput): Promise<string> {
    this.checkWorker(input.worker);
    if (input.description.trim() === '') throw new UsageError('the task needs a description');
    const taskId = input.taskId ?? `task-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
    if (!TASK_ID_RE.test(taskId)) throw new UsageError(`invalid task id "${taskId}": letters, digits, ".", "_" or "-", starting with a letter or digit, at most 128`);
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
    if (this.ctx.selection.kind === 'redis') return this.addToStore(input.worker, taskId, body);
    const dir = join(this.ctx.project.paths.tasks, input.worker);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${taskId}.json`);
    if (existsSync(file)) throw new UsageError(`a task file ${file} is already waiting`);
    const tmp = join(dir, `.${taskId}.json.tmp-${process.pid}`);
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
    return taskId;
  }

  private async addToStore(worker: string, taskId: string, body: Record<string, unknown>): Promise<string> {
    const config = this.ctx.project.config;
    const w = config.workers.find((x) => x.name === worker)!;
    let t: WorkerTaskFileInput;
    try {
      // The engine's own reading of a task file: the same checks, the same messages.
      t = parseWorkerTask(
        body,
        taskId,
        worker,
        config.agents.map((a) => a.name),
      );
    } catch (err) {
      throw new UsageError(`task ${taskId}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const settings = workerSettings(config, w);
    const r = await this.store.createWorkerTask({
      taskId: t.taskId,
      worker,
      description: t.description,
      metadata: t.metadata ? JSON.stringify(t.metadata) : null,
      worktree: t.worktree,
      from: t.from,
      priority: t.priority ?? 5,
      timeoutMs: t.timeoutMs ?? settings.timeoutMs,
      maxRetries: t.maxRetries ?? settings.maxRetries,
      source: `${JSON.stringify(body, null, 2)}\n`,
    });
    if (!r.created) throw new UsageError(`task id "${taskId}" is already used (a task of ${r.task.worker}, ${r.task.state}); give a new --id`);
    this.ctx.log.info({ event: 'worker_task_added', worker, task: taskId }, 'worker task queued in the store');
    await this.wakeNodes(worker);
    return taskId;
  }

  /** Redis team: the engines of the nodes that are up look at `worker`'s queue now (best effort: they also look every few seconds). */
  private async wakeNodes(worker: string): Promise<void> {
    const s = this.ctx.selection;
    if (s.kind !== 'redis') return;
    const w = this.ctx.project.config.workers.find((x) => x.name === worker);
    try {
      const { openNodeLink } = await import('../cluster/node-link.js');
      const link = await openNodeLink({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs });
      try {
        for (const n of await link.registry.list()) if (n.state === 'up' && (!w?.nodes || w.nodes.includes(n.name))) await link.bus.wake(n.name, worker);
      } finally {
        await link.close();
      }
    } catch (err) {
      this.ctx.log.debug({ event: 'worker_wake_failed', worker, error: err instanceof Error ? err.message : String(err) }, 'could not wake the nodes; they look at the queue within seconds');
    }
  }

  async cancel(taskId: string, reason = 'cancelled by the operator'): Promise<WorkerTask> {
    return this.store.cancelWorkerTask(taskId, reason).catch((err: unknown) => {
      throw this.explain(err, taskId, 'cancel');
    });
  }

  async retry(taskId: string): Promise<WorkerTask> {
    const t = await this.store.requeueWorkerTask(taskId).catch((err: unknown) => {
      throw this.explain(err, taskId, 'retry');
    });
    await this.wakeNodes(t.worker);
    return t;
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
