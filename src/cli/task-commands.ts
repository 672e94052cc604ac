/** `hornets-tui tasks` (list, watch, cancel, retry) and `hornets-tui task add`: the task workers' tasks. */
import { UsageError } from '../errors.js';
import { workerTaskStates, type WorkerTask, type WorkerTaskState } from '../domain/worker-task.js';
import type { TaskUsage } from '../domain/run-usage.js';
import { totalTokens } from '../domain/usage.js';
import { openProject } from '../services/context.js';
import { WorkerTaskService, type WorkerView } from '../services/worker-tasks.js';
import { age, json, preview, table, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

async function withTasks<T>(g: GlobalOptions, fn: (svc: WorkerTaskService) => Promise<T> | T): Promise<T> {
  const ctx = await openProject({ configPath: g.config, component: 'tasks' });
  try {
    // A task added on a Redis team goes into the store here: checked as the engine checks a file.
    return await fn(new WorkerTaskService(ctx));
  } finally {
    await ctx.close();
  }
}

function parseStates(text: string | undefined, all: boolean | undefined): WorkerTaskState[] | undefined {
  if (all) return undefined;
  if (!text) return ['queued', 'running', 'retrying', 'failed'];
  const states = text.split(',').map((s) => s.trim());
  for (const s of states) if (!(workerTaskStates as readonly string[]).includes(s)) throw new UsageError(`unknown task state "${s}" (one of ${workerTaskStates.join(', ')})`);
  return states as WorkerTaskState[];
}

function info(t: WorkerTask, now: number): string {
  switch (t.state) {
    case 'running':
      return t.deadlineAt !== null ? `run ${t.runId ?? '?'}, deadline in ${age(now, t.deadlineAt)}` : `run ${t.runId ?? '?'}`;
    case 'retrying':
      return `retry in ${t.retryAt !== null ? age(now, Math.max(now, t.retryAt)) : '?'}: ${preview(t.lastError ?? '', 60)}`;
    case 'completed':
      return preview(t.result ?? '', 70);
    case 'failed':
    case 'cancelled':
      return preview(t.lastError ?? '', 70);
    case 'queued':
      return t.history.length ? `again after: ${preview(t.lastError ?? '', 60)}` : '';
  }
}

export function renderWorkers(workers: WorkerView[], now: number): string {
  const rows = workers.map((w) => {
    const h = w.heartbeat;
    const breaker = h ? h.breaker : '?';
    return [
      w.name,
      h ? `${h.activeTasks}/${w.maxConcurrent ?? '?'}` : `-/${w.maxConcurrent ?? '?'}`,
      h ? String(h.queueDepth) : '-',
      breaker,
      h ? `${age(Date.parse(h.at), now)} ago` : 'no engine yet',
    ];
  });
  return table(['WORKER', 'RUNNING', 'WAITING', 'BREAKER', 'HEARTBEAT'], rows);
}

/** A task's tokens and cost over all its runs, `12.3k $0.41`; `-` before any run reported usage. */
export function usageCell(u: TaskUsage): string {
  if (u.runs === 0) return '-';
  const n = totalTokens(u);
  const tokens = n < 1000 ? String(n) : n < 1_000_000 ? `${(n / 1000).toFixed(1)}k` : `${(n / 1_000_000).toFixed(1)}M`;
  return `${tokens} $${u.costUsd < 10 ? u.costUsd.toFixed(2) : u.costUsd.toFixed(0)}`;
}

export function renderTasks(tasks: WorkerTask[], now: number): string {
  const rows = tasks.map((t) => [t.taskId, t.worker, t.state, String(t.attempts), age(t.createdAt, now), usageCell(t.usage), info(t, now)]);
  return table(['TASK', 'WORKER', 'STATE', 'RUNS', 'AGE', 'USAGE', 'INFO'], rows);
}

export interface TasksListOptions {
  worker?: string;
  state?: string;
  all?: boolean;
  limit?: string;
  json?: boolean;
}

async function snapshot(svc: WorkerTaskService, opts: TasksListOptions): Promise<{ workers: WorkerView[]; tasks: WorkerTask[] }> {
  const limit = opts.limit ? Number(opts.limit) : 200;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number ≥ 1, got ${opts.limit}`);
  const tasks = await svc.list({ worker: opts.worker, states: parseStates(opts.state, opts.all), limit: 100_000 });
  return { workers: await svc.workers(), tasks: tasks.slice(-limit) };
}

export async function tasksListCommand(o: Output, g: GlobalOptions, opts: TasksListOptions): Promise<void> {
  await withTasks(g, async (svc) => {
    const s = await snapshot(svc, opts);
    if (opts.json) return json(o, s);
    const now = Date.now();
    o.out(renderWorkers(s.workers, now));
    o.out('');
    o.out(s.tasks.length ? renderTasks(s.tasks, now) : 'no tasks in these states');
  });
}

/** Redraws the list every second until interrupted. */
export async function tasksWatchCommand(o: Output, g: GlobalOptions, opts: TasksListOptions & { interval?: string }): Promise<void> {
  const everyMs = opts.interval ? Number(opts.interval) * 1000 : 1000;
  if (!(everyMs >= 100)) throw new UsageError(`--interval must be at least 0.1 (seconds), got ${opts.interval}`);
  await withTasks(g, async (svc) => {
    for (;;) {
      const s = await snapshot(svc, opts);
      const now = Date.now();
      o.out(`\x1b[H\x1b[2J${new Date(now).toISOString()}  (Ctrl-C to stop)\n\n${renderWorkers(s.workers, now)}\n\n${s.tasks.length ? renderTasks(s.tasks, now) : 'no tasks in these states'}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
}

export async function tasksCancelCommand(o: Output, g: GlobalOptions, ids: string[], opts: { reason?: string; json?: boolean }): Promise<void> {
  await withTasks(g, async (svc) => {
    const done: WorkerTask[] = [];
    for (const id of ids) done.push(await svc.cancel(id, opts.reason ?? 'cancelled by the operator'));
    if (opts.json) return json(o, done);
    for (const t of done) o.out(`cancelled ${t.taskId} (${t.worker}); a running run is stopped by the engine`);
  });
}

export async function tasksRetryCommand(o: Output, g: GlobalOptions, ids: string[], opts: { json?: boolean }): Promise<void> {
  await withTasks(g, async (svc) => {
    const done: WorkerTask[] = [];
    for (const id of ids) done.push(await svc.retry(id));
    if (opts.json) return json(o, done);
    for (const t of done) o.out(`queued ${t.taskId} (${t.worker}) again, with a fresh retry budget`);
  });
}

export interface TaskAddOptions {
  id?: string;
  from?: string;
  metadata?: string;
  priority?: string;
  timeout?: string;
  maxRetries?: string;
  worktree?: string;
}

export async function taskAddCommand(o: Output, g: GlobalOptions, worker: string, words: string[], opts: TaskAddOptions): Promise<void> {
  let metadata: Record<string, unknown> | undefined;
  if (opts.metadata !== undefined) {
    try {
      const v: unknown = JSON.parse(opts.metadata);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      metadata = v as Record<string, unknown>;
    } catch {
      throw new UsageError(`--metadata must be a JSON object, got ${opts.metadata}`);
    }
  }
  const num = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} must be a whole number ≥ 0, got ${v}`);
    return n;
  };
  const id = await withTasks(g, (svc) =>
    svc.add({
      worker,
      description: words.join(' '),
      taskId: opts.id,
      from: opts.from,
      metadata,
      priority: num(opts.priority, '--priority'),
      timeout: opts.timeout,
      maxRetries: num(opts.maxRetries, '--max-retries'),
      worktree: opts.worktree,
    }),
  );
  o.out(id);
}
