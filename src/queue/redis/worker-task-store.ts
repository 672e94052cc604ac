/**
 * Redis implementation of WorkerTaskStore (issue 14): the same behaviour as the SQLite one (the
 * conformance suite runs against both), with every change one Lua script
 * (worker-task-scripts.ts). Engines on several nodes share one worker's tasks: a claim hands each
 * due task to one of them under a lease, and only that lease's token ends the run.
 */
import type { Redis } from 'ioredis';
import { QueueError } from '../../errors.js';
import { randomId } from '../../util/ids.js';
import {
  type AttemptEnd,
  type WorkerAttempt,
  type WorkerClaim,
  type WorkerTask,
  type WorkerTaskFilter,
  type WorkerTaskInput,
  type WorkerTaskState,
  workerTaskStates,
} from '../../domain/worker-task.js';
import type { DutyFence, SavedBreaker, WorkerClaimRequest, WorkerLeaseRef, WorkerTaskStore } from '../store.js';
import { taskUsageOf } from '../../domain/run-usage.js';
import { WORKER_ERROR_CHARS, checkClaim, checkLeaseMs, checkSavedBreaker, checkWorkerTaskInput } from '../worker-task-checks.js';
import { workerReadyScore, workerTaskBase } from './keys.js';
import {
  WT_BREAKER_SWAP_SCRIPT,
  WT_CANCEL_SCRIPT,
  WT_CLAIM_SCRIPT,
  WT_CREATE_SCRIPT,
  WT_END_SCRIPT,
  WT_PRUNE_SCRIPT,
  WT_RENEW_SCRIPT,
  WT_REQUEUE_SCRIPT,
  WT_START_SCRIPT,
} from './worker-task-scripts.js';

type WtScript = 'hornetsWtBreakerSwap' | 'hornetsWtCreate' | 'hornetsWtClaim' | 'hornetsWtStart' | 'hornetsWtEnd' | 'hornetsWtCancel' | 'hornetsWtRequeue' | 'hornetsWtRenew' | 'hornetsWtPrune';
type WtRedis = Redis & Record<WtScript, (numKeys: number, ...args: string[]) => Promise<unknown>>;

/** Registers the scripts on a connection (EVALSHA, loaded on first use). */
export function defineWorkerTaskScripts(redis: Redis): void {
  redis.defineCommand('hornetsWtCreate', { lua: WT_CREATE_SCRIPT });
  redis.defineCommand('hornetsWtClaim', { lua: WT_CLAIM_SCRIPT });
  redis.defineCommand('hornetsWtStart', { lua: WT_START_SCRIPT });
  redis.defineCommand('hornetsWtEnd', { lua: WT_END_SCRIPT });
  redis.defineCommand('hornetsWtCancel', { lua: WT_CANCEL_SCRIPT });
  redis.defineCommand('hornetsWtRequeue', { lua: WT_REQUEUE_SCRIPT });
  redis.defineCommand('hornetsWtRenew', { lua: WT_RENEW_SCRIPT });
  redis.defineCommand('hornetsWtPrune', { lua: WT_PRUNE_SCRIPT });
  redis.defineCommand('hornetsWtBreakerSwap', { lua: WT_BREAKER_SWAP_SCRIPT });
}

export interface RedisWorkerTaskStoreOptions {
  prefix: string;
  clock: () => number;
  /** The message store's error mapping (Redis failures -> QueueError io, cluster waits). */
  io: <T>(fn: () => Promise<T>) => Promise<T>;
  onCluster: boolean;
}

const LIST_PAGE = 500;

function num(v: string | undefined): number | null {
  return v === undefined ? null : Number(v);
}

function toWorkerTask(h: Record<string, string>): WorkerTask {
  const history = JSON.parse(h.history ?? '[]') as WorkerAttempt[];
  return {
    taskId: h.task_id!,
    worker: h.worker!,
    description: h.description!,
    metadata: h.metadata ?? null,
    worktree: h.worktree ?? null,
    from: h.sender ?? null,
    priority: Number(h.priority),
    timeoutMs: Number(h.timeout_ms),
    maxRetries: Number(h.max_retries),
    state: h.state as WorkerTaskState,
    attempts: Number(h.attempts ?? 0),
    runId: h.run_id ?? null,
    startedAt: num(h.started_at),
    deadlineAt: num(h.deadline_at),
    retryAt: num(h.retry_at),
    history,
    failuresBase: Number(h.failures_base ?? 0),
    // From the recorded attempts, each run id once: the end script appends an attempt only once per run.
    usage: taskUsageOf(history),
    result: h.result ?? null,
    lastError: h.last_error ?? null,
    source: h.source ?? null,
    createdAt: Number(h.created_at),
    updatedAt: Number(h.updated_at),
    completedAt: num(h.completed_at),
    lease: h.lease_holder === undefined ? null : { holder: h.lease_holder, token: Number(h.lease_token ?? 0), expiresAt: Number(h.lease_expires_at ?? 0) },
  };
}

export class RedisWorkerTaskStore implements WorkerTaskStore {
  private readonly base: string;
  private readonly redis: WtRedis;

  constructor(
    redis: Redis,
    private readonly o: RedisWorkerTaskStoreOptions,
  ) {
    this.redis = redis as WtRedis;
    this.base = workerTaskBase(o.prefix);
  }

  private key(taskId: string): string {
    return `${this.base}t:${taskId}`;
  }

  private async read(taskId: string): Promise<WorkerTask | null> {
    const h = await this.o.io(() => this.redis.hgetall(this.key(taskId)));
    return Object.keys(h).length === 0 ? null : toWorkerTask(h);
  }

  private async readMany(ids: readonly string[]): Promise<WorkerTask[]> {
    if (ids.length === 0) return [];
    const res = await this.o.io(async () => {
      const p = this.redis.pipeline();
      for (const id of ids) p.hgetall(this.key(id));
      return (await p.exec()) ?? [];
    });
    const out: WorkerTask[] = [];
    for (const [err, h] of res) {
      if (err) throw new QueueError('io', `Redis: ${err.message}`, { prefix: this.o.prefix }, { cause: err });
      // Pruned between the index read and this one: gone.
      if (h && Object.keys(h as object).length > 0) out.push(toWorkerTask(h as Record<string, string>));
    }
    return out;
  }

  private async mustRead(taskId: string): Promise<WorkerTask> {
    const t = await this.read(taskId);
    if (!t) throw new QueueError('not_found', `no worker task with id "${taskId}"`, { taskId });
    return t;
  }

  /** A script's answer as the SQLite store's errors, then the task as it is now. */
  private async settle(taskId: string, answer: unknown, expected: string, detail: { runId?: string; holder?: string; token?: number } = {}): Promise<WorkerTask> {
    const a = String(answer);
    if (a === 'N') throw new QueueError('not_found', `no worker task with id "${taskId}"`, { taskId });
    if (a.startsWith('S')) throw new QueueError('invalid_state', `worker task ${taskId} is ${a.slice(1)}; expected ${expected}`, { taskId, state: a.slice(1) });
    if (a.startsWith('R')) throw new QueueError('invalid_state', `worker task ${taskId}: run ${detail.runId ?? '?'} is not its current run (${a.slice(1)})`, { taskId, runId: detail.runId });
    if (a === 'L') {
      throw new QueueError('stale_fence', `worker task ${taskId}: run ${detail.runId ?? '?'} is no longer leased to ${detail.holder ?? 'an unfenced end'} (token ${detail.token ?? 'none'})`, {
        taskId,
        runId: detail.runId,
      });
    }
    return this.mustRead(taskId);
  }

  async createWorkerTask(input: WorkerTaskInput): Promise<{ task: WorkerTask; created: boolean }> {
    checkWorkerTaskInput(input);
    const now = this.o.clock();
    const fields: Record<string, string | number | null | undefined> = {
      task_id: input.taskId,
      worker: input.worker,
      description: input.description,
      metadata: input.metadata,
      worktree: input.worktree,
      sender: input.from,
      priority: input.priority,
      timeout_ms: Math.round(input.timeoutMs),
      max_retries: input.maxRetries,
      state: 'queued',
      attempts: 0,
      history: '[]',
      failures_base: 0,
      lease_token: 0,
      source: input.source,
      created_at: now,
      updated_at: now,
      order: workerReadyScore(input.priority, now),
    };
    const pairs = Object.entries(fields).flatMap(([k, v]) => (v === null || v === undefined ? [] : [k, String(v)]));
    const created = Number(await this.o.io(() => this.redis.hornetsWtCreate(1, this.key(input.taskId), this.base, input.taskId, input.worker, String(now), String(fields.order), ...pairs)));
    return { task: await this.mustRead(input.taskId), created: created === 1 };
  }

  getWorkerTask(taskId: string): Promise<WorkerTask | null> {
    return this.read(taskId);
  }

  async listWorkerTasks(filter: WorkerTaskFilter = {}): Promise<WorkerTask[]> {
    if (filter.states && filter.states.length > 0) {
      for (const st of filter.states) if (!workerTaskStates.includes(st)) throw new QueueError('invalid_input', `unknown worker task state "${st}" (one of ${workerTaskStates.join(', ')})`);
    }
    const states = filter.states && filter.states.length > 0 ? new Set<string>(filter.states) : null;
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    const index = filter.worker !== undefined ? `${this.base}w:${filter.worker}` : `${this.base}all`;
    const out: WorkerTask[] = [];
    for (let offset = 0; out.length < limit; offset += LIST_PAGE) {
      const ids = await this.o.io(() => (filter.order === 'newest' ? this.redis.zrevrange(index, offset, offset + LIST_PAGE - 1) : this.redis.zrange(index, offset, offset + LIST_PAGE - 1)));
      for (const t of await this.readMany(ids)) {
        if (states && !states.has(t.state)) continue;
        out.push(t);
        if (out.length >= limit) break;
      }
      if (ids.length < LIST_PAGE) break;
    }
    return out;
  }

  async startWorkerRun(taskId: string, run: { runId: string; startedAt: number; deadlineAt: number }): Promise<WorkerTask> {
    const answer = await this.o.io(() =>
      this.redis.hornetsWtStart(1, this.key(taskId), this.base, run.runId, String(Math.round(run.startedAt)), String(Math.round(run.deadlineAt)), String(this.o.clock())),
    );
    return this.settle(taskId, answer, 'queued or retrying');
  }

  async endWorkerRun(taskId: string, runId: string, end: AttemptEnd, lease?: WorkerLeaseRef): Promise<WorkerTask> {
    const error = end.attempt.error === null ? '' : end.attempt.error.slice(0, WORKER_ERROR_CHARS);
    const result = end.next === 'completed' ? end.result : null;
    const retryAt = end.next === 'retrying' ? String(Math.round(end.retryAt)) : '';
    const answer = await this.o.io(() =>
      this.redis.hornetsWtEnd(
        1,
        this.key(taskId),
        this.base,
        runId,
        end.next,
        JSON.stringify(end.attempt),
        error,
        result === null ? '0' : '1',
        result ?? '',
        retryAt,
        String(this.o.clock()),
        lease?.holder ?? '',
        lease ? String(lease.token) : '',
      ),
    );
    return this.settle(taskId, answer, end.next === 'cancelled' ? 'running or cancelled' : 'running', { runId, ...(lease ? { holder: lease.holder, token: lease.token } : {}) });
  }

  async claimWorkerRuns(worker: string, claim: WorkerClaimRequest): Promise<WorkerClaim> {
    checkClaim(claim);
    const now = this.o.clock();
    const marker = `${this.base}op:${randomId(16)}`;
    const answer = String(
      await this.o.io(() =>
        this.redis.hornetsWtClaim(
          2,
          `${this.base}ready:${worker}`,
          marker,
          this.base,
          worker,
          claim.holder,
          String(now),
          String(claim.limit),
          String(now + claim.leaseMs),
          claim.breakerVersion === undefined ? '' : String(claim.breakerVersion),
          claim.maxNew === undefined ? '' : String(claim.maxNew),
        ),
      ),
    );
    const lines = answer === '' ? [] : answer.split('\n');
    const tasks = new Map((await this.readMany(lines.map((l) => l.slice(1)))).map((t) => [t.taskId, t]));
    const pick = (kind: string) => lines.filter((l) => l.startsWith(kind)).flatMap((l) => tasks.get(l.slice(1)) ?? []);
    return { started: pick('s'), orphans: pick('o') };
  }

  async renewWorkerLeases(holder: string, leases: readonly WorkerLeaseRef[], leaseMs: number): Promise<string[]> {
    if (leases.length === 0) return [];
    checkLeaseMs(leaseMs);
    const mine = leases.filter((l) => l.holder === holder);
    const others = leases.filter((l) => l.holder !== holder).map((l) => l.taskId);
    if (mine.length === 0) return others;
    const lost = (await this.o.io(() =>
      this.redis.hornetsWtRenew(1, `${this.base}all`, this.base, holder, String(this.o.clock() + leaseMs), ...mine.flatMap((l) => [l.taskId, String(l.token)])),
    )) as string[];
    return [...others, ...lost];
  }

  async cancelWorkerTask(taskId: string, reason: string): Promise<WorkerTask> {
    const answer = await this.o.io(() => this.redis.hornetsWtCancel(1, this.key(taskId), this.base, reason.slice(0, WORKER_ERROR_CHARS), String(this.o.clock())));
    return this.settle(taskId, answer, 'queued or running or retrying');
  }

  async requeueWorkerTask(taskId: string): Promise<WorkerTask> {
    const answer = await this.o.io(() => this.redis.hornetsWtRequeue(1, this.key(taskId), this.base, String(this.o.clock())));
    return this.settle(taskId, answer, 'failed or cancelled');
  }

  async workerTaskCounts(): Promise<Map<string, Record<WorkerTaskState, number>>> {
    const workers = (await this.o.io(() => this.redis.smembers(`${this.base}workers`))).sort();
    const res = await this.o.io(async () => {
      const p = this.redis.pipeline();
      for (const w of workers) p.hgetall(`${this.base}counts:${w}`);
      return (await p.exec()) ?? [];
    });
    const out = new Map<string, Record<WorkerTaskState, number>>();
    workers.forEach((w, i) => {
      const raw = (res[i]?.[1] ?? {}) as Record<string, string>;
      const c = Object.fromEntries(workerTaskStates.map((st) => [st, Number(raw[st] ?? 0)])) as Record<WorkerTaskState, number>;
      // As SQLite's GROUP BY: a worker with no task left (all pruned) is not listed.
      if (workerTaskStates.some((st) => c[st] > 0)) out.set(w, c);
    });
    return out;
  }

  async workerBreakers(): Promise<Map<string, SavedBreaker>> {
    const [raw, versions] = await this.o.io(() => Promise.all([this.redis.hgetall(`${this.base}breakers`), this.redis.hgetall(`${this.base}breaker_version`)]));
    return new Map(Object.entries(raw).map(([w, json]) => [w, { ...(JSON.parse(json) as SavedBreaker), version: Number(versions[w] ?? 0) }]));
  }

  async saveWorkerBreaker(worker: string, b: SavedBreaker): Promise<void> {
    checkSavedBreaker(worker, b);
    // Whatever was saved: a swap from the version just read, again if another write came between.
    for (;;) {
      const version = (await this.workerBreakers()).get(worker)?.version ?? 0;
      if ((await this.swapWorkerBreaker(worker, version, b)).swapped) return;
    }
  }

  async swapWorkerBreaker(worker: string, expectedVersion: number, next: SavedBreaker): Promise<{ swapped: boolean; breaker: SavedBreaker | null }> {
    checkSavedBreaker(worker, next);
    const saved: SavedBreaker = { state: next.state, failures: next.failures, openedAt: next.openedAt, trial: next.trial ?? null, updatedAt: this.o.clock() };
    const [ok, json, version] = (await this.o.io(() => this.redis.hornetsWtBreakerSwap(1, `${this.base}breakers`, this.base, worker, String(expectedVersion), JSON.stringify(saved)))) as [
      number,
      string,
      number,
    ];
    const breaker = json === '' ? null : { ...(JSON.parse(json) as SavedBreaker), version: Number(version) };
    return { swapped: ok === 1, breaker };
  }

  /**
   * Retention of ended tasks (the message store's prune calls it): batches of `batchSize`, each one
   * script, fenced as the message store's commits are (a deposed leader's batch writes nothing).
   * Returns how many tasks went; `stale` when the fence was refused.
   */
  async prune(cutoff: number, batchSize: number, fence: DutyFence | undefined, signal?: AbortSignal): Promise<{ removed: number; stale: boolean }> {
    let removed = 0;
    for (;;) {
      if (signal?.aborted) return { removed, stale: false };
      let keys = [`${this.base}ended`];
      let mode = '';
      if (fence && this.o.onCluster) {
        // The fence key is in another slot: read just before; the script checks and raises the duty's mark in this slot.
        if ((await this.o.io(() => this.redis.get(fence.key))) !== String(fence.token)) return { removed, stale: true };
        keys = [...keys, `hornets:{${this.o.prefix}}:dutyfence:${fence.key.slice(fence.key.lastIndexOf(':') + 1)}`];
        mode = 'mark';
      } else if (fence) {
        keys = [...keys, fence.key];
        mode = 'key';
      }
      const answer = await this.o.io(() => this.redis.hornetsWtPrune(keys.length, ...keys, this.base, String(cutoff), String(batchSize), mode, fence ? String(fence.token) : ''));
      if (answer === -1 || answer === '-1') return { removed, stale: true };
      const [seen, gone] = (answer as [number, number]).map(Number) as [number, number];
      removed += gone;
      if (seen < batchSize) return { removed, stale: false };
    }
  }
}
