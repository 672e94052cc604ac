/** The worker_tasks table (schema version 3) and worker_breakers (4): guarded changes, one end per run, requeue with a fresh budget. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { isWorkerTaskStore, type WorkerTaskStore } from '../../src/queue/store.js';
import { failuresSinceRequeue, nextDueTasks, type WorkerAttempt } from '../../src/domain/worker-task.js';
import { QueueError } from '../../src/errors.js';

let dir: string;
let store: SqliteMessageStore;
let w: WorkerTaskStore;
const now = { t: 1_000_000 };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hornets-wtasks-'));
  store = await openSqliteStore(join(dir, 'hornets.db'), { clock: () => now.t });
  w = store.workerTasks;
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const input = (taskId: string, extra: Record<string, unknown> = {}) => ({ taskId, worker: 'fabien', description: `do ${taskId}`, priority: 5, timeoutMs: 60_000, maxRetries: 1, ...extra });
const attempt = (runId: string, outcome: WorkerAttempt['outcome'], n = 1): WorkerAttempt => ({
  attempt: n,
  runId,
  outcome,
  exitCode: outcome === 'completed' ? 0 : 1,
  signal: null,
  startedAt: 1,
  endedAt: 2,
  error: outcome === 'completed' ? null : outcome,
});

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof QueueError && e.code === code);
}

describe('worker task store', () => {
  it("keeps each worker's breaker; a new save replaces it; a bad one is refused by name", async () => {
    expect((await w.workerBreakers()).size).toBe(0);
    await w.saveWorkerBreaker('fabien', { state: 'open', failures: 3, openedAt: 999_000 });
    await w.saveWorkerBreaker('gina', { state: 'closed', failures: 1, openedAt: null });
    now.t += 5;
    await w.saveWorkerBreaker('fabien', { state: 'half_open', failures: 3, openedAt: null });
    expect(Object.fromEntries(await w.workerBreakers())).toEqual({
      fabien: { state: 'half_open', failures: 3, openedAt: null, updatedAt: now.t },
      gina: { state: 'closed', failures: 1, openedAt: null, updatedAt: now.t - 5 },
    });
    await expect(w.saveWorkerBreaker('fabien', { state: 'ajar' as never, failures: 0, openedAt: null })).rejects.toThrow(/invalid breaker state "ajar" for worker fabien/);
    await expect(w.saveWorkerBreaker('fabien', { state: 'open', failures: -1, openedAt: 1 })).rejects.toThrow(QueueError);
    expect((await w.workerBreakers()).get('fabien')!.state).toBe('half_open');
  });

  it('is reachable on the SQLite store', () => {
    expect(isWorkerTaskStore(w)).toBe(true);
  });

  it('creates once per id and keeps metadata, worktree and from', async () => {
    const a = await w.createWorkerTask(input('t1', { metadata: '{"k":1}', worktree: '/tmp/x', from: 'lead', source: '{}' }));
    expect(a.created).toBe(true);
    expect(a.task).toMatchObject({ taskId: 't1', worker: 'fabien', state: 'queued', attempts: 0, metadata: '{"k":1}', worktree: '/tmp/x', from: 'lead', history: [], failuresBase: 0 });
    const again = await w.createWorkerTask(input('t1', { description: 'other' }));
    expect(again.created).toBe(false);
    expect(again.task.description).toBe('do t1');
  });

  it('a run starts once and ends once: a repeated end is refused', async () => {
    await w.createWorkerTask(input('t1'));
    const r = await w.startWorkerRun('t1', { runId: 't1.a1', startedAt: 10, deadlineAt: 70 });
    expect(r).toMatchObject({ state: 'running', attempts: 1, runId: 't1.a1', deadlineAt: 70 });
    // The same start again (a crash between the window and the record) changes nothing.
    expect((await w.startWorkerRun('t1', { runId: 't1.a1', startedAt: 11, deadlineAt: 71 })).attempts).toBe(1);
    const done = await w.endWorkerRun('t1', 't1.a1', { next: 'completed', attempt: attempt('t1.a1', 'completed'), result: 'ok' });
    expect(done).toMatchObject({ state: 'completed', result: 'ok', history: [{ runId: 't1.a1', outcome: 'completed' }], completedAt: now.t });
    await rejects(w.endWorkerRun('t1', 't1.a1', { next: 'completed', attempt: attempt('t1.a1', 'completed'), result: 'twice' }), 'invalid_state');
    expect((await w.getWorkerTask('t1'))!.history).toHaveLength(1);
  });

  it('a stale run cannot end a newer one', async () => {
    await w.createWorkerTask(input('t1'));
    await w.startWorkerRun('t1', { runId: 't1.a1', startedAt: 10, deadlineAt: 70 });
    await w.endWorkerRun('t1', 't1.a1', { next: 'retrying', attempt: attempt('t1.a1', 'failed'), retryAt: 100 });
    await w.startWorkerRun('t1', { runId: 't1.a2', startedAt: 100, deadlineAt: 160 });
    await rejects(w.endWorkerRun('t1', 't1.a1', { next: 'failed', attempt: attempt('t1.a1', 'failed') }), 'invalid_state');
    const t = await w.endWorkerRun('t1', 't1.a2', { next: 'failed', attempt: attempt('t1.a2', 'timeout', 2) });
    expect(t).toMatchObject({ state: 'failed', attempts: 2, lastError: 'timeout' });
    expect(t.history.map((a) => a.outcome)).toEqual(['failed', 'timeout']);
  });

  it('cancel ends an open task; its run still records its attempt; requeue gives a fresh budget', async () => {
    await w.createWorkerTask(input('t1'));
    await w.startWorkerRun('t1', { runId: 't1.a1', startedAt: 10, deadlineAt: 70 });
    expect((await w.cancelWorkerTask('t1', 'by operator')).state).toBe('cancelled');
    await rejects(w.cancelWorkerTask('t1', 'again'), 'invalid_state');
    const ended = await w.endWorkerRun('t1', 't1.a1', { next: 'cancelled', attempt: attempt('t1.a1', 'cancelled') });
    expect(ended.state).toBe('cancelled');
    const back = await w.requeueWorkerTask('t1');
    expect(back).toMatchObject({ state: 'queued', completedAt: null });
    expect(failuresSinceRequeue(back)).toBe(0);
  });

  it('requeue after failures: the old failures stop counting', async () => {
    await w.createWorkerTask(input('t1'));
    await w.startWorkerRun('t1', { runId: 't1.a1', startedAt: 10, deadlineAt: 70 });
    await w.endWorkerRun('t1', 't1.a1', { next: 'retrying', attempt: attempt('t1.a1', 'crashed'), retryAt: 0 });
    await w.startWorkerRun('t1', { runId: 't1.a2', startedAt: 10, deadlineAt: 70 });
    const failed = await w.endWorkerRun('t1', 't1.a2', { next: 'failed', attempt: attempt('t1.a2', 'failed', 2) });
    expect(failuresSinceRequeue(failed)).toBe(2);
    await rejects(w.requeueWorkerTask('nope'), 'not_found');
    const back = await w.requeueWorkerTask('t1');
    expect(back.failuresBase).toBe(2);
    expect(failuresSinceRequeue(back)).toBe(0);
    await rejects(w.requeueWorkerTask('t1'), 'invalid_state');
  });

  it('retention removes finished worker tasks older than the cutoff and keeps open ones', async () => {
    for (const id of ['done', 'bad', 'gone', 'open']) await w.createWorkerTask(input(id));
    for (const id of ['done', 'bad']) await w.startWorkerRun(id, { runId: `${id}.a1`, startedAt: 1, deadlineAt: 2 });
    await w.endWorkerRun('done', 'done.a1', { next: 'completed', attempt: attempt('done.a1', 'completed'), result: 'ok' });
    await w.endWorkerRun('bad', 'bad.a1', { next: 'failed', attempt: attempt('bad.a1', 'failed') });
    await w.cancelWorkerTask('gone', 'x');
    now.t += 2 * 3_600_000;
    const r = await store.prune({ olderThanMs: 3_600_000 });
    expect(r.tasks).toBe(3);
    expect((await w.listWorkerTasks()).map((t) => t.taskId)).toEqual(['open']);
  });

  it('lists by worker and state, counts per worker, and orders due tasks by priority then age', async () => {
    await w.createWorkerTask(input('a'));
    now.t += 1;
    await w.createWorkerTask(input('b', { priority: 9 }));
    now.t += 1;
    await w.createWorkerTask(input('c', { worker: 'anga' }));
    await w.startWorkerRun('a', { runId: 'a.a1', startedAt: 1, deadlineAt: 2 });
    expect((await w.listWorkerTasks({ worker: 'fabien', states: ['queued'] })).map((t) => t.taskId)).toEqual(['b']);
    const counts = await w.workerTaskCounts();
    expect(counts.get('fabien')).toMatchObject({ queued: 1, running: 1 });
    expect(counts.get('anga')).toMatchObject({ queued: 1 });
    const all = await w.listWorkerTasks();
    expect(nextDueTasks(all, now.t, 5).map((t) => t.taskId)).toEqual(['b', 'c']);
    await rejects(w.listWorkerTasks({ states: ['bogus' as never] }), 'invalid_input');
  });
});
