/**
 * Tasks and results (the seed systems' `/shared/tasks` and `/shared/results`).
 *
 * `.hornets/tasks/<agent>/<task_id>.json` ({task_id, description, priority?, timeout?, max_retries?,
 * from?}) becomes a task row plus a queued message (key `task:<task_id>`, meta {task_id}); the file
 * is removed. The task is done when its message reached the agent and the agent then stopped (its
 * Stop hook saved `lastStopAt` later than the delivery): the agent's final message becomes the
 * result in `.hornets/results/<agent>/<task_id>.json`. A timeout (counted from delivery) or a dead /
 * expired message retries with backoff (a new message, key `task:<task_id>#<attempt>`) up to
 * `max_retries`; then the result says "failed" with the reason and the task file goes to the DLQ.
 * A task with `from` (an orchestrator agent) sends that agent a message when it ends.
 *
 * An agent gets one task at a time: the next task's message is queued only when the previous
 * task of that agent has ended or waits for a retry, so one Stop (one final message) is never the
 * result of several tasks. The decisions are the pure functions of src/domain/task-policy.ts.
 */
import { join } from 'node:path';
import * as z from 'zod';
import type { Logger } from '../../log.js';
import type { Message } from '../../domain/message.js';
import type { MessageStore, TaskStore } from '../../queue/store.js';
import type { Task, TaskState } from '../../domain/task.js';
import type { StatePaths } from '../../config/paths.js';
import { nextTaskStep, nextTaskToStart, retryDecision, type TaskFailureKind } from '../../domain/task-policy.js';
import { namedPriorities } from '../../domain/priority.js';
import { QueueError, errorMessage } from '../../errors.js';
import { recordTaskEnded, recordTaskTaken, type HornetsMetrics } from '../metrics.js';
import { DropDir, deadLetter, writeJsonAtomic, type DropFile, type DropOutcome, type WatchSettings, type WatchState } from './drop-dir.js';
import { TASK_ID_RE, durationInput, formatIssues, isObject, isPermanentQueueError, messageDefaults, priorityInput, readDuration, readPriority, type WatcherConfig } from './common.js';

export const TASK_SUFFIX = '.json';
/** How much of a result goes into the orchestrator's notification. */
export const NOTIFY_RESULT_CHARS = 2000;
const DEFAULT_CHECK_INTERVAL_MS = 2_000;
/** With no open task, the timer's check runs on every this many ticks only. */
const IDLE_CHECK_EVERY = 15;

const taskSchema = z.object({
  task_id: z.string().regex(TASK_ID_RE, { message: 'must be 1–128 characters: letters, digits, ".", "_" or "-", starting with a letter or digit' }).optional(),
  description: z.string({ error: 'is required and must be a string' }),
  priority: priorityInput.optional(),
  timeout: durationInput.optional(),
  max_retries: z.number().int().min(0).max(100).optional(),
  from: z.string().optional(),
});

export interface TaskInput {
  taskId: string;
  description: string;
  priority: number | null;
  timeoutMs: number | null;
  maxRetries: number | null;
  from: string | null;
}

/** Validates a parsed task file; `stem` is the file name without `.json` (the default task id). Throws the DLQ reason. */
export function parseTask(json: unknown, stem: string, agents: readonly string[]): TaskInput {
  if (!isObject(json)) throw new Error(`expected a JSON object with "task_id" and "description", got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  const r = taskSchema.safeParse(json);
  if (!r.success) throw new Error(`wrong fields: ${formatIssues(r.error)}`);
  const t = r.data;
  const taskId = t.task_id ?? stem;
  if (!TASK_ID_RE.test(taskId)) throw new Error(`wrong fields: no valid "task_id" and the file name "${stem}" cannot serve as one`);
  if (t.description.trim() === '') throw new Error('empty text: "description" has no content');
  if (t.from !== undefined && !agents.includes(t.from)) throw new Error(`wrong fields: from: "${t.from}" is not a configured agent (agents: ${agents.join(', ')})`);
  return {
    taskId,
    description: t.description,
    priority: t.priority === undefined ? null : readPriority(t.priority),
    timeoutMs: t.timeout === undefined ? null : readDuration(t.timeout, 'timeout'),
    maxRetries: t.max_retries ?? null,
    from: t.from ?? null,
  };
}

export function taskMessageKey(taskId: string, attempt: number): string {
  return attempt <= 1 ? `task:${taskId}` : `task:${taskId}#${attempt}`;
}

export function taskMessageBody(task: Pick<Task, 'taskId' | 'description' | 'from'>, attempt: number): string {
  const retry = attempt > 1 ? ` (attempt ${attempt})` : '';
  return `Task ${task.taskId}${task.from ? ` from ${task.from}` : ''}${retry}:\n${task.description}\n\nWhen it is done, end your turn with the result: your final message is recorded as the task result.`;
}

export interface TaskResultFile {
  task_id: string;
  agent: string;
  status: 'completed' | 'failed';
  result: string | null;
  error?: string;
  duration_ms: number;
  attempts: number;
  from: string | null;
  completed_at: string;
}

export interface TaskSettings {
  /** Default timeout (daemon.taskTimeout / TASK_TIMEOUT; 30 min). */
  taskTimeoutMs: number;
  /** Default retries (daemon.taskMaxRetries / MAX_RETRIES). */
  taskMaxRetries: number;
  /** First retry delay, doubling (daemon.taskRetryBackoff / RETRY_BACKOFF). */
  taskRetryBackoffMs: number;
  /** Longest retry delay; default 30 min. */
  taskRetryBackoffMaxMs?: number;
}

export interface TaskWatcherOptions {
  store: MessageStore & TaskStore;
  paths: Pick<StatePaths, 'tasks' | 'results' | 'dlq'>;
  config: WatcherConfig;
  settings: TaskSettings;
  log: Logger;
  /** Called after a task message (or an orchestrator notification) was enqueued. */
  wake: (agent: string) => void;
  clock?: () => number;
  random?: () => number;
  metrics?: HornetsMetrics;
  /** Safety-net scan of the task directories (default 15 s). */
  scanIntervalMs?: number;
  /** Own completion/timeout/retry check period (default 2 s); the engine also calls checkCompletions() after hook events. */
  checkIntervalMs?: number;
  /** hornets.json `watch`: events (inotify) or poll (network volumes). */
  watch?: WatchSettings;
  maxFileBytes?: number;
  /**
   * Task workers (seed 003): files in tasks/<worker>/ are theirs; the watcher hands them over
   * (one watch of the task directories, and no worker directory is taken for an unknown agent).
   */
  workers?: { names(): string[]; intake(f: DropFile): Promise<DropOutcome> } | null;
  /**
   * A Redis team: check and dispatch only the tasks of this node's agents (a task belongs to its
   * agent's node), so no task check runs on two nodes. A single host checks every open task.
   */
  ownAgentsOnly?: boolean;
}

type FailureKind = TaskFailureKind;

export class TaskWatcher {
  private readonly dir: DropDir;
  private readonly clock: () => number;
  private readonly random: () => number;
  private agents: string[];
  private timer: NodeJS.Timeout | null = null;
  /** All task state changes run one at a time (intake and checks interleave otherwise). */
  private chain: Promise<unknown> = Promise.resolve();
  private checking: Promise<void> | null = null;
  /**
   * Open tasks the last check saw. Every task change is made here, so with none open and none
   * taken in since there is nothing for the timer to find; it then checks only every
   * IDLE_CHECK_EVERY ticks (a safety net), which keeps a SQLite read every 2 s off an idle engine.
   */
  private openAtLastCheck = Infinity;
  private idleTicks = 0;
  private nextCheck: Promise<void> | null = null;

  constructor(private readonly o: TaskWatcherOptions) {
    this.clock = o.clock ?? Date.now;
    this.random = o.random ?? Math.random;
    this.agents = o.config.agents.map((a) => a.name);
    this.dir = new DropDir({
      kind: 'task',
      root: o.paths.tasks,
      dlq: o.paths.dlq,
      suffix: TASK_SUFFIX,
      agents: [...this.agents, ...(o.workers?.names() ?? [])],
      log: o.log,
      clock: this.clock,
      scanIntervalMs: o.scanIntervalMs,
      ...(o.watch ? { watch: o.watch } : {}),
      maxFileBytes: o.maxFileBytes,
      handle: (f) => this.serial(() => this.intake(f)),
      onDead: (agent) => o.metrics?.watcherFiles.inc({ kind: 'task', agent, outcome: 'dead' }),
    });
  }

  async start(): Promise<void> {
    await this.dir.start();
    await this.checkCompletions();
    this.timer = setInterval(() => {
      if (this.openAtLastCheck === 0 && ++this.idleTicks < IDLE_CHECK_EVERY) return;
      this.idleTicks = 0;
      void this.checkCompletions();
    }, this.o.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  /** Which watch mode runs (hornets.json `watch`), its scan period and the directories watched. */
  watchState(): WatchState {
    return this.dir.watchState();
  }

  /** The team changed while the engine runs: serve the agents of `config` from now on. */
  setConfig(config: WatcherConfig): Promise<void> {
    this.o.config = config;
    this.agents = config.agents.map((a) => a.name);
    return this.dir.setAgents([...this.agents, ...(this.o.workers?.names() ?? [])]);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.dir.stop();
    await this.nextCheck;
    await this.checking;
    await this.chain;
  }

  /** One safety-net pass over the task directories (tests call it directly). */
  scan(): Promise<void> {
    return this.dir.scan();
  }

  /** Per agent: tasks waiting (queued or retrying) and running, for heartbeats and gauges. */
  async counts(): Promise<Map<string, { waiting: number; running: number }>> {
    const raw = await this.o.store.taskCounts(this.agents);
    const out = new Map<string, { waiting: number; running: number }>();
    for (const a of this.agents) {
      const c = raw.get(a);
      out.set(a, { waiting: (c?.queued ?? 0) + (c?.retrying ?? 0), running: c?.running ?? 0 });
    }
    return out;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------ intake

  private async intake(f: DropFile): Promise<DropOutcome> {
    if (this.o.workers?.names().includes(f.agent)) return this.o.workers.intake(f);
    let t: TaskInput;
    try {
      t = parseTask(f.json, f.name.slice(0, -TASK_SUFFIX.length), this.agents);
    } catch (err) {
      return { kind: 'dead', error: errorMessage(err) };
    }
    const d = messageDefaults(this.o.config, f.agent);
    let task: Task;
    try {
      this.openAtLastCheck = Infinity; // from here on there may be one to look after
      const r = await this.o.store.createTask({
        taskId: t.taskId,
        agent: f.agent,
        description: t.description,
        priority: t.priority ?? d.priority,
        timeoutMs: t.timeoutMs ?? this.o.settings.taskTimeoutMs,
        maxRetries: t.maxRetries ?? this.o.settings.taskMaxRetries,
        from: t.from,
        source: f.text,
      });
      task = r.task;
      if (!r.created) {
        if (task.agent !== f.agent) return { kind: 'dead', error: `task id "${t.taskId}" is already used by a task for ${task.agent}` };
        if (task.state === 'completed' || task.state === 'failed') {
          return { kind: 'dead', error: `task id "${t.taskId}" was already used (that task ${task.state} at ${new Date(task.completedAt ?? task.updatedAt).toISOString()}); give a new task_id` };
        }
        if (task.description !== t.description) {
          return { kind: 'dead', error: `task id "${t.taskId}" is already in use by an open task (${task.state}, attempt ${task.attempts}) with another description; give a new task_id` };
        }
        // The same file again (a crash between taking it in and removing it): the task goes on as it is.
        this.o.log.info({ event: 'task_duplicate_file', agent: f.agent, task: t.taskId }, 'task file already taken in; removed');
        return { kind: 'done' };
      }
    } catch (err) {
      if (isPermanentQueueError(err)) return { kind: 'dead', error: errorMessage(err) };
      return { kind: 'retry', error: errorMessage(err) };
    }
    this.o.metrics?.watcherFiles.inc({ kind: 'task', agent: f.agent, outcome: 'accepted' });
    if (this.o.metrics) recordTaskTaken(this.o.metrics, f.agent);
    this.o.log.info({ event: 'task_accepted', agent: f.agent, task: task.taskId, from: task.from }, 'task taken in');
    // The task row is the record now: a failure to queue its message is retried by the checks.
    await this.dispatch(f.agent).catch((err: unknown) => this.o.log.error({ event: 'task_dispatch_failed', agent: f.agent, error: errorMessage(err) }, 'cannot queue the next task'));
    return { kind: 'done' };
  }

  /**
   * Queues the message of the agent's next task when no other task holds the agent (one task per
   * agent at a time; see task-policy.ts). Runs inside serial().
   */
  private async dispatch(agent: string): Promise<void> {
    const open = await this.o.store.listTasks({ agent, states: ['queued', 'running', 'retrying'], limit: 100_000 });
    const next = nextTaskToStart(open, this.clock());
    if (!next) return;
    try {
      const started = await this.startAttempt(next);
      this.o.log.info({ event: 'task_started', agent, task: next.taskId, attempt: started.attempts, waiting: open.length - 1 }, 'task handed to its agent');
    } catch (err) {
      if (!isPermanentQueueError(err)) throw err;
      await this.finalFail(next, `cannot queue the task: ${errorMessage(err)}`, 'enqueue');
      // That one is over: the next may go.
      await this.dispatch(agent);
    }
  }

  /** Enqueues the next attempt's message (idempotent by key) and records it on the task. */
  private async startAttempt(task: Task): Promise<Task> {
    const attempt = task.attempts + 1;
    const r = await this.o.store.enqueue({
      agent: task.agent,
      body: taskMessageBody(task, attempt),
      priority: task.priority,
      key: taskMessageKey(task.taskId, attempt),
      sender: task.from ?? 'task',
      meta: { task_id: task.taskId, attempt },
    });
    const updated = await this.o.store.startTaskAttempt(task.taskId, r.message.id);
    if (r.created) this.o.wake(task.agent);
    return updated;
  }

  // ------------------------------------------------------------ completion, timeouts, retries

  /**
   * Looks at every open task: delivered -> running, finished (agent stopped after delivery) ->
   * result, timed out or message dead -> retry or fail, backoff over -> next attempt. Safe to call
   * often (after every hook event); overlapping calls coalesce into one more pass.
   */
  checkCompletions(): Promise<void> {
    if (this.checking) {
      // A pass is under way: the caller gets the next one, which starts after it (shared by all
      // callers in the meantime).
      this.nextCheck ??= this.checking.then(() => {
        this.nextCheck = null;
        return this.checkCompletions();
      });
      return this.nextCheck;
    }
    const run = this.serial(() => this.checkOnce())
      .catch((err: unknown) => this.o.log.error({ event: 'task_check_failed', error: errorMessage(err) }, 'task check failed'))
      .finally(() => {
        if (this.checking === run) this.checking = null;
      });
    this.checking = run;
    return run;
  }

  private async checkOnce(): Promise<void> {
    const all = await this.o.store.listTasks({ states: ['queued', 'running', 'retrying'], limit: 100_000 });
    const open = this.o.ownAgentsOnly ? all.filter((t) => this.agents.includes(t.agent)) : all;
    this.openAtLastCheck = open.length;
    for (const t of open) {
      try {
        await this.checkTask(t);
      } catch (err) {
        this.o.log.error({ event: 'task_check_failed', task: t.taskId, agent: t.agent, error: errorMessage(err) }, 'task check failed');
      }
    }
    // After the checks, so a task that just ended hands its agent to the next one in the same pass.
    for (const agent of new Set(open.map((t) => t.agent))) {
      try {
        await this.dispatch(agent);
      } catch (err) {
        this.o.log.error({ event: 'task_dispatch_failed', agent, error: errorMessage(err) }, 'cannot queue the next task');
      }
    }
    await this.updateGauges();
  }

  private async updateGauges(): Promise<void> {
    const m = this.o.metrics;
    if (!m) return;
    for (const [agent, c] of await this.counts()) {
      m.taskQueueSize.set({ worker: agent }, c.waiting);
      m.activeTasks.set({ worker: agent }, c.running);
    }
  }

  private async message(id: string): Promise<Message | null> {
    try {
      return await this.o.store.get(id);
    } catch (err) {
      if (err instanceof QueueError && err.code === 'not_found') return null;
      throw err;
    }
  }

  /** Applies task-policy's steps to one task with a message until there is nothing more to do now. */
  private async checkTask(task: Task): Promise<void> {
    let t = task;
    // At most requeued -> running -> ended in one pass; the bound guards against a policy loop.
    for (let i = 0; i < 4; i++) {
      if (t.messageId === null) return;
      const m = await this.message(t.messageId);
      const cp = t.state === 'running' ? ((await this.o.store.getAgentContext(t.agent))?.checkpointData ?? null) : null;
      const stopAt = typeof cp?.lastStopAt === 'number' ? cp.lastStopAt : null;
      const step = nextTaskStep(t, m, stopAt, this.clock());
      switch (step.kind) {
        case 'wait':
          return;
        case 'requeued':
          // Requeued after its session ended (or redelivered): the clock starts again at the next delivery.
          t = await this.o.store.markTaskWaiting(t.taskId);
          break;
        case 'running':
          t = await this.o.store.markTaskRunning(t.taskId, { startedAt: step.startedAt, deadlineAt: step.deadlineAt });
          this.o.log.info({ event: 'task_running', agent: t.agent, task: t.taskId, attempt: t.attempts }, 'task delivered to its agent');
          break;
        case 'completed':
          return this.complete(t, typeof cp?.lastAssistantMessage === 'string' ? cp.lastAssistantMessage : null);
        case 'attempt_failed':
          return this.attemptFailed(t, step.reason, step.failure);
        case 'failed':
          return this.finalFail(t, step.reason, step.failure);
      }
    }
  }

  private async attemptFailed(t: Task, reason: string, kind: FailureKind): Promise<void> {
    this.o.metrics?.tasksFailed.inc({ worker: t.agent, reason: kind });
    const backoff = { baseMs: this.o.settings.taskRetryBackoffMs, maxMs: this.o.settings.taskRetryBackoffMaxMs ?? 1_800_000 };
    const d = retryDecision(t, reason, this.clock(), backoff, this.random);
    if (d.retry) {
      await this.o.store.markTaskRetrying(t.taskId, { error: reason, retryAt: d.retryAt });
      this.o.log.warn({ event: 'task_retry', agent: t.agent, task: t.taskId, attempt: t.attempts, maxRetries: t.maxRetries, reason, retryInMs: d.delayMs }, 'task attempt failed; retrying');
      return;
    }
    return this.finalFail(t, d.reason, kind);
  }

  private resultFile(t: Task): string {
    return join(this.o.paths.results, t.agent, `${t.taskId}.json`);
  }

  private resultRecord(t: Task, status: 'completed' | 'failed', result: string | null, error: string | null, now: number): TaskResultFile {
    return {
      task_id: t.taskId,
      agent: t.agent,
      status,
      result,
      ...(error !== null ? { error } : {}),
      duration_ms: Math.max(0, now - t.createdAt),
      attempts: t.attempts,
      from: t.from,
      completed_at: new Date(now).toISOString(),
    };
  }

  /**
   * Order matters for crash safety: the result file and the notification (idempotent by key) come
   * before the task row is closed, so a crash in between repeats them rather than losing them.
   */
  private async complete(t: Task, result: string | null): Promise<void> {
    const now = this.clock();
    const record = this.resultRecord(t, 'completed', result, null, now);
    await writeJsonAtomic(this.resultFile(t), record);
    await this.notify(t, `task ${t.taskId} for ${t.agent} completed: ${(result ?? '(no final message)').slice(0, NOTIFY_RESULT_CHARS)}`, 'completed');
    await this.o.store.markTaskDone(t.taskId, { result });
    if (this.o.metrics) recordTaskEnded(this.o.metrics, t.agent, 'completed', record.duration_ms / 1000);
    this.o.log.info({ event: 'task_completed', agent: t.agent, task: t.taskId, attempts: t.attempts, ms: record.duration_ms }, 'task completed');
  }

  private async finalFail(t: Task, reason: string, kind: FailureKind): Promise<void> {
    const now = this.clock();
    const record = this.resultRecord(t, 'failed', null, reason, now);
    await writeJsonAtomic(this.resultFile(t), record);
    const source =
      t.source ??
      `${JSON.stringify({ task_id: t.taskId, description: t.description, priority: t.priority, timeout: t.timeoutMs / 1000, max_retries: t.maxRetries, ...(t.from ? { from: t.from } : {}) }, null, 2)}\n`;
    await deadLetter(this.o.paths.dlq, t.agent, `${t.taskId}${TASK_SUFFIX}`, null, reason, now, { task_id: t.taskId, attempts: t.attempts, kind }, source);
    await this.notify(t, `task ${t.taskId} for ${t.agent} failed: ${reason}`, 'failed');
    await this.o.store.markTaskFailed(t.taskId, { error: reason });
    if (this.o.metrics) recordTaskEnded(this.o.metrics, t.agent, 'failed', record.duration_ms / 1000);
    this.o.log.warn({ event: 'task_failed', agent: t.agent, task: t.taskId, attempts: t.attempts, reason }, 'task failed');
  }

  private async notify(t: Task, text: string, status: TaskState): Promise<void> {
    if (!t.from) return;
    try {
      const r = await this.o.store.enqueue({
        agent: t.from,
        body: text,
        priority: namedPriorities.high,
        key: `task-result:${t.taskId}`,
        sender: t.agent,
        meta: { task_id: t.taskId, status, result_file: this.resultFile(t) },
      });
      if (r.created) this.o.wake(t.from);
    } catch (err) {
      // A full orchestrator queue must not hold the result back: the result file is the record.
      this.o.log.error({ event: 'task_notify_failed', agent: t.agent, task: t.taskId, orchestrator: t.from, error: errorMessage(err) }, 'cannot notify the orchestrator');
    }
  }
}
