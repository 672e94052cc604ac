/**
 * SQLite implementation of WorkerTaskStore: one row per task in `worker_tasks`, each change guarded
 * on the task's state (and, for the end of a run, on its run id) inside one write transaction.
 */
import { QueueError } from '../../errors.js';
import { WORKER_ERROR_CHARS, checkClaim, checkLeaseMs, checkSavedBreaker, checkWorkerTaskInput } from '../worker-task-checks.js';
import {
  type AttemptEnd,
  type WorkerAttempt,
  type WorkerClaim,
  type WorkerTask,
  type WorkerTaskFilter,
  type WorkerTaskInput,
  type WorkerTaskState,
  countedFailures,
  openWorkerTaskStates,
  runIdOf,
  workerTaskStates,
} from '../../domain/worker-task.js';
import { taskUsageOf } from '../../domain/run-usage.js';
import type { SavedBreaker, SavedBreakerTrial, WorkerClaimRequest, WorkerLeaseRef, WorkerTaskStore } from '../store.js';
import type { SqliteConnection } from './connection.js';

interface WorkerTaskRow {
  task_id: string;
  worker: string;
  description: string;
  metadata: string | null;
  worktree: string | null;
  sender: string | null;
  priority: number;
  timeout_ms: number;
  max_retries: number;
  state: string;
  attempts: number;
  run_id: string | null;
  started_at: number | null;
  deadline_at: number | null;
  retry_at: number | null;
  history: string;
  failures_base: number;
  result: string | null;
  last_error: string | null;
  source: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  lease_holder: string | null;
  lease_token: number;
  lease_expires_at: number | null;
  usage_input: number;
  usage_output: number;
  usage_cache_read: number;
  usage_cache_creation: number;
  usage_cost_usd: number;
  usage_runs: number;
}

function toWorkerTask(r: WorkerTaskRow): WorkerTask {
  return {
    taskId: r.task_id,
    worker: r.worker,
    description: r.description,
    metadata: r.metadata,
    worktree: r.worktree,
    from: r.sender,
    priority: r.priority,
    timeoutMs: r.timeout_ms,
    maxRetries: r.max_retries,
    state: r.state as WorkerTaskState,
    attempts: r.attempts,
    runId: r.run_id,
    startedAt: r.started_at,
    deadlineAt: r.deadline_at,
    retryAt: r.retry_at,
    history: JSON.parse(r.history) as WorkerAttempt[],
    failuresBase: r.failures_base,
    usage: { input: r.usage_input, output: r.usage_output, cacheRead: r.usage_cache_read, cacheCreation: r.usage_cache_creation, costUsd: r.usage_cost_usd, runs: r.usage_runs },
    result: r.result,
    lastError: r.last_error,
    source: r.source,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
    lease: r.lease_holder === null ? null : { holder: r.lease_holder, token: r.lease_token, expiresAt: r.lease_expires_at ?? 0 },
  };
}

const ERROR_CHARS = WORKER_ERROR_CHARS;

export class SqliteWorkerTaskStore implements WorkerTaskStore {
  constructor(private readonly c: SqliteConnection) {}

  private row(taskId: string): WorkerTaskRow | undefined {
    return this.c.stmt('SELECT * FROM worker_tasks WHERE task_id = ?').get(taskId) as WorkerTaskRow | undefined;
  }

  private mustRow(taskId: string): WorkerTaskRow {
    const row = this.row(taskId);
    if (!row) throw new QueueError('not_found', `no worker task with id "${taskId}"`, { taskId });
    return row;
  }

  private update(taskId: string, set: Record<string, unknown>, now: number): WorkerTask {
    const cols = Object.keys(set);
    this.c.stmt(`UPDATE worker_tasks SET ${cols.map((c) => `${c} = @${c}`).join(', ')}, updated_at = @now WHERE task_id = @task_id`).run({ ...set, now, task_id: taskId });
    return toWorkerTask(this.mustRow(taskId));
  }

  private guard(row: WorkerTaskRow, from: readonly WorkerTaskState[]): void {
    if (!from.includes(row.state as WorkerTaskState)) {
      throw new QueueError('invalid_state', `worker task ${row.task_id} is ${row.state}; expected ${from.join(' or ')}`, { taskId: row.task_id, state: row.state });
    }
  }

  async createWorkerTask(input: WorkerTaskInput): Promise<{ task: WorkerTask; created: boolean }> {
    checkWorkerTaskInput(input);
    return this.c.write(() => {
      const now = this.c.now();
      const existing = this.row(input.taskId);
      if (existing) return { task: toWorkerTask(existing), created: false };
      this.c
        .stmt(
          `INSERT INTO worker_tasks (task_id, worker, description, metadata, worktree, sender, priority, timeout_ms, max_retries, state, source, created_at, updated_at)
           VALUES (@task_id, @worker, @description, @metadata, @worktree, @sender, @priority, @timeout_ms, @max_retries, 'queued', @source, @now, @now)`,
        )
        .run({
          task_id: input.taskId,
          worker: input.worker,
          description: input.description,
          metadata: input.metadata ?? null,
          worktree: input.worktree ?? null,
          sender: input.from ?? null,
          priority: input.priority,
          timeout_ms: Math.round(input.timeoutMs),
          max_retries: input.maxRetries,
          source: input.source ?? null,
          now,
        });
      return { task: toWorkerTask(this.mustRow(input.taskId)), created: true };
    });
  }

  async getWorkerTask(taskId: string): Promise<WorkerTask | null> {
    return this.c.read(() => {
      const row = this.row(taskId);
      return row ? toWorkerTask(row) : null;
    });
  }

  async listWorkerTasks(filter: WorkerTaskFilter = {}): Promise<WorkerTask[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.worker !== undefined) {
      where.push('worker = @worker');
      params.worker = filter.worker;
    }
    if (filter.states && filter.states.length > 0) {
      for (const st of filter.states) if (!workerTaskStates.includes(st)) throw new QueueError('invalid_input', `unknown worker task state "${st}" (one of ${workerTaskStates.join(', ')})`);
      where.push(`state IN (${filter.states.map((st) => `'${st}'`).join(',')})`);
    }
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    const sql = `SELECT * FROM worker_tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${filter.order === 'newest' ? 'created_at DESC, task_id DESC' : 'created_at, task_id'} LIMIT ${limit}`;
    return this.c.read(() => (this.c.stmt(sql).all(params) as WorkerTaskRow[]).map(toWorkerTask));
  }

  async startWorkerRun(taskId: string, run: { runId: string; startedAt: number; deadlineAt: number }): Promise<WorkerTask> {
    return this.c.write(() => {
      const now = this.c.now();
      const row = this.mustRow(taskId);
      if (row.state === 'running' && row.run_id === run.runId) return toWorkerTask(row);
      this.guard(row, ['queued', 'retrying']);
      return this.update(
        taskId,
        { state: 'running', attempts: row.attempts + 1, run_id: run.runId, started_at: run.startedAt, deadline_at: run.deadlineAt, retry_at: null, lease_holder: null, lease_expires_at: null },
        now,
      );
    });
  }

  async claimWorkerRuns(worker: string, claim: WorkerClaimRequest): Promise<WorkerClaim> {
    checkClaim(claim);
    return this.c.write(() => {
      const now = this.c.now();
      const expiresAt = now + claim.leaseMs;
      const breakerMoved = claim.breakerVersion !== undefined && this.breakerVersion(worker) !== claim.breakerVersion;
      const lapsed = this.c
        .stmt(`SELECT * FROM worker_tasks WHERE worker = ? AND state = 'running' AND lease_holder IS NOT NULL AND lease_expires_at < ? ORDER BY lease_expires_at, task_id LIMIT 100`)
        .all(worker, now) as WorkerTaskRow[];
      // A lapsed run of the claimer's own keeps its slot; another's takes one of the free slots, and
      // what finds none is left for a node that has one.
      let slots = Math.floor(claim.limit);
      const orphans: WorkerTask[] = [];
      for (const r of lapsed) {
        const own = r.lease_holder === claim.holder;
        if (!own && slots <= 0) continue;
        if (!own) slots--;
        orphans.push(this.update(r.task_id, { lease_holder: claim.holder, lease_token: r.lease_token + 1, lease_expires_at: expiresAt }, now));
      }
      const started: WorkerTask[] = [];
      slots = breakerMoved ? 0 : Math.min(slots, claim.maxNew ?? slots);
      if (slots > 0) {
        const due = this.c
          .stmt(
            `SELECT * FROM worker_tasks WHERE worker = ? AND (state = 'queued' OR (state = 'retrying' AND COALESCE(retry_at, 0) <= ?))
             ORDER BY priority DESC, created_at, task_id LIMIT ?`,
          )
          .all(worker, now, slots) as WorkerTaskRow[];
        for (const r of due) {
          const attempts = r.attempts + 1;
          started.push(
            this.update(
              r.task_id,
              {
                state: 'running',
                attempts,
                run_id: runIdOf(r.task_id, attempts),
                started_at: now,
                deadline_at: now + r.timeout_ms,
                retry_at: null,
                lease_holder: claim.holder,
                lease_token: r.lease_token + 1,
                lease_expires_at: expiresAt,
              },
              now,
            ),
          );
        }
      }
      return { started, orphans };
    });
  }

  async renewWorkerLeases(holder: string, leases: readonly WorkerLeaseRef[], leaseMs: number): Promise<string[]> {
    if (leases.length === 0) return [];
    checkLeaseMs(leaseMs);
    return this.c.write(() => {
      const now = this.c.now();
      const lost: string[] = [];
      const renew = this.c.stmt(
        `UPDATE worker_tasks SET lease_expires_at = @expires WHERE task_id = @task_id AND lease_holder = @holder AND lease_token = @token AND state IN ('running', 'cancelled')`,
      );
      for (const l of leases) {
        if (l.holder !== holder || renew.run({ expires: now + leaseMs, task_id: l.taskId, holder, token: l.token }).changes === 0) lost.push(l.taskId);
      }
      return lost;
    });
  }

  async endWorkerRun(taskId: string, runId: string, end: AttemptEnd, lease?: WorkerLeaseRef): Promise<WorkerTask> {
    return this.c.write(() => {
      const now = this.c.now();
      const row = this.mustRow(taskId);
      if (row.run_id !== runId) throw new QueueError('invalid_state', `worker task ${taskId}: run ${runId} is not its current run (${row.run_id ?? 'none'})`, { taskId, runId });
      // A run cancelled by the operator ends on a cancelled task: only its attempt is recorded.
      this.guard(row, end.next === 'cancelled' ? ['running', 'cancelled'] : ['running']);
      const fenced = lease !== undefined || row.lease_holder !== null;
      if (fenced && (lease === undefined || row.lease_holder !== lease.holder || row.lease_token !== lease.token)) {
        throw new QueueError('stale_fence', `worker task ${taskId}: run ${runId} is no longer leased to ${lease?.holder ?? 'an unfenced end'} (token ${lease?.token ?? 'none'})`, { taskId, runId });
      }
      const history = [...(JSON.parse(row.history) as WorkerAttempt[]), end.attempt];
      const error = end.attempt.error === null ? null : end.attempt.error.slice(0, ERROR_CHARS);
      // The totals are summed again from the recorded attempts, each run id once.
      const u = taskUsageOf(history);
      const base = {
        history: JSON.stringify(history),
        usage_input: u.input,
        usage_output: u.output,
        usage_cache_read: u.cacheRead,
        usage_cache_creation: u.cacheCreation,
        usage_cost_usd: u.costUsd,
        usage_runs: u.runs,
        deadline_at: null,
        last_error: error ?? row.last_error,
        lease_holder: null,
        lease_expires_at: null,
      };
      switch (end.next) {
        case 'completed':
          return this.update(taskId, { ...base, state: 'completed', result: end.result, retry_at: null, completed_at: now }, now);
        case 'retrying':
          return this.update(taskId, { ...base, state: 'retrying', retry_at: end.retryAt }, now);
        case 'failed':
          return this.update(taskId, { ...base, state: 'failed', retry_at: null, completed_at: now }, now);
        case 'cancelled':
          return this.update(taskId, { ...base, state: 'cancelled', retry_at: null, completed_at: row.completed_at ?? now }, now);
      }
    });
  }

  async cancelWorkerTask(taskId: string, reason: string): Promise<WorkerTask> {
    return this.c.write(() => {
      const now = this.c.now();
      const row = this.mustRow(taskId);
      this.guard(row, openWorkerTaskStates);
      return this.update(taskId, { state: 'cancelled', retry_at: null, last_error: reason.slice(0, ERROR_CHARS), completed_at: now }, now);
    });
  }

  async requeueWorkerTask(taskId: string): Promise<WorkerTask> {
    return this.c.write(() => {
      const now = this.c.now();
      const row = this.mustRow(taskId);
      this.guard(row, ['failed', 'cancelled']);
      // A fresh retry budget: the failures so far stop counting; the history keeps them.
      const used = countedFailures(JSON.parse(row.history) as WorkerAttempt[]);
      // The lease goes: the run of the cancel, if still out, can no longer end the task.
      return this.update(taskId, { state: 'queued', retry_at: null, deadline_at: null, completed_at: null, failures_base: used, lease_holder: null, lease_expires_at: null }, now);
    });
  }

  async workerTaskCounts(): Promise<Map<string, Record<WorkerTaskState, number>>> {
    return this.c.read(() => {
      const out = new Map<string, Record<WorkerTaskState, number>>();
      for (const r of this.c.stmt('SELECT worker, state, COUNT(*) AS n FROM worker_tasks GROUP BY worker, state').all() as { worker: string; state: WorkerTaskState; n: number }[]) {
        let c = out.get(r.worker);
        if (!c) {
          c = Object.fromEntries(workerTaskStates.map((st) => [st, 0])) as Record<WorkerTaskState, number>;
          out.set(r.worker, c);
        }
        c[r.state] = r.n;
      }
      return out;
    });
  }

  async workerBreakers(): Promise<Map<string, SavedBreaker>> {
    return this.c.read(() => {
      const rows = this.c.stmt('SELECT worker, state, failures, opened_at, trial, version, updated_at FROM worker_breakers').all() as BreakerRow[];
      return new Map(rows.map((r) => [r.worker, toSavedBreaker(r)]));
    });
  }

  async saveWorkerBreaker(worker: string, b: SavedBreaker): Promise<void> {
    checkSavedBreaker(worker, b);
    return this.c.write(() => {
      this.writeBreaker(worker, b, this.breakerVersion(worker) + 1);
    });
  }

  async swapWorkerBreaker(worker: string, expectedVersion: number, next: SavedBreaker): Promise<{ swapped: boolean; breaker: SavedBreaker | null }> {
    checkSavedBreaker(worker, next);
    // One write transaction: the version read and the write cannot interleave with another engine's.
    return this.c.write(() => {
      if (this.breakerVersion(worker) !== expectedVersion) return { swapped: false, breaker: this.readBreaker(worker) };
      this.writeBreaker(worker, next, expectedVersion + 1);
      return { swapped: true, breaker: this.readBreaker(worker) };
    });
  }

  private breakerVersion(worker: string): number {
    const r = this.c.stmt('SELECT version FROM worker_breakers WHERE worker = ?').get(worker) as { version: number } | undefined;
    return r?.version ?? 0;
  }

  private readBreaker(worker: string): SavedBreaker | null {
    const r = this.c.stmt('SELECT worker, state, failures, opened_at, trial, version, updated_at FROM worker_breakers WHERE worker = ?').get(worker) as BreakerRow | undefined;
    return r ? toSavedBreaker(r) : null;
  }

  private writeBreaker(worker: string, b: SavedBreaker, version: number): void {
    this.c
      .stmt(
        `INSERT INTO worker_breakers (worker, state, failures, opened_at, trial, version, updated_at) VALUES (@worker, @state, @failures, @opened_at, @trial, @version, @now)
         ON CONFLICT(worker) DO UPDATE SET state = excluded.state, failures = excluded.failures, opened_at = excluded.opened_at, trial = excluded.trial,
           version = excluded.version, updated_at = excluded.updated_at`,
      )
      .run({ worker, state: b.state, failures: b.failures, opened_at: b.openedAt, trial: b.trial ? JSON.stringify(b.trial) : null, version, now: this.c.now() });
  }
}

interface BreakerRow {
  worker: string;
  state: SavedBreaker['state'];
  failures: number;
  opened_at: number | null;
  trial: string | null;
  version: number;
  updated_at: number;
}

function toSavedBreaker(r: BreakerRow): SavedBreaker {
  return {
    state: r.state,
    failures: r.failures,
    openedAt: r.opened_at,
    trial: r.trial ? (JSON.parse(r.trial) as SavedBreakerTrial) : null,
    version: r.version,
    updatedAt: r.updated_at,
  };
}
