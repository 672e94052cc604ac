/**
 * Backend-neutral conformance suite for WorkerTaskStore (the task workers' tasks, issue 14): the
 * SQLite tests of worker_tasks (schema 3), worker_breakers (4), run leases (5) and run usage (8), run unchanged
 * against every backend through the public interfaces and an injected clock. Guarded changes, one
 * end per run, requeue with a fresh budget, claims under a lease that only its token ends.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWorkerTaskStore, type MessageStore, type StoreOptions, type WorkerTaskStore } from '../../src/queue/store.js';
import { failuresSinceRequeue, nextDueTasks, type WorkerAttempt } from '../../src/domain/worker-task.js';
import type { RunUsage } from '../../src/domain/run-usage.js';
import { QueueError } from '../../src/errors.js';
import { breakerBindTrial, breakerOnFailure, breakerStartLimit, breakerTakeTrial, type BreakerPolicy } from '../../src/domain/worker-policy.js';
import { readWorkerBreaker, transitionWorkerBreaker } from '../../src/queue/worker-breaker-swap.js';

export type WorkerTaskStoreFactory = (opts: StoreOptions) => Promise<{ store: MessageStore & { workerTasks: WorkerTaskStore }; cleanup: () => Promise<void> }>;

const now = { t: 1_000_000 };
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

export function runWorkerTaskStoreConformance(backendName: string, factory: WorkerTaskStoreFactory): void {
  describe(`WorkerTaskStore conformance: ${backendName}`, () => {
    let store: MessageStore & { workerTasks: WorkerTaskStore };
    let w: WorkerTaskStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      now.t = 1_000_000;
      ({ store, cleanup } = await factory({ clock: () => now.t, random: () => 0.5 }));
      w = store.workerTasks;
    });

    afterEach(async () => {
      await cleanup();
    });

    it("keeps each worker's breaker; a new save replaces it; a bad one is refused by name", async () => {
      expect((await w.workerBreakers()).size).toBe(0);
      await w.saveWorkerBreaker('fabien', { state: 'open', failures: 3, openedAt: 999_000 });
      await w.saveWorkerBreaker('gina', { state: 'closed', failures: 1, openedAt: null });
      now.t += 5;
      await w.saveWorkerBreaker('fabien', { state: 'half_open', failures: 3, openedAt: null });
      expect(Object.fromEntries(await w.workerBreakers())).toEqual({
        fabien: { state: 'half_open', failures: 3, openedAt: null, trial: null, version: 2, updatedAt: now.t },
        gina: { state: 'closed', failures: 1, openedAt: null, trial: null, version: 1, updatedAt: now.t - 5 },
      });
      await expect(w.saveWorkerBreaker('fabien', { state: 'ajar' as never, failures: 0, openedAt: null })).rejects.toThrow(/invalid breaker state "ajar" for worker fabien/);
      await expect(w.saveWorkerBreaker('fabien', { state: 'open', failures: -1, openedAt: 1 })).rejects.toThrow(QueueError);
      expect((await w.workerBreakers()).get('fabien')!.state).toBe('half_open');
    });

    it('is reachable on the store', () => {
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

    it("each run's tokens and cost are kept with its attempt; the task's totals sum every run once, through retries, a repeated end and a requeue", async () => {
      const u1: RunUsage = { input: 120, output: 30, cacheRead: 400, cacheCreation: 50, costUsd: 0.0125, costSource: 'cli', model: 'claude-sonnet-4-5' };
      const u2: RunUsage = { input: 7, output: 3, cacheRead: 0, cacheCreation: 0, costUsd: 0.25, costSource: 'priced', model: 'claude-opus-4-5' };
      const u3: RunUsage = { input: 1, output: 2, cacheRead: 3, cacheCreation: 4, costUsd: 0, costSource: 'none', model: null };
      const created = await w.createWorkerTask(input('t1', { maxRetries: 2 }));
      expect(created.task.usage).toEqual({ input: 0, output: 0, cacheRead: 0, cacheCreation: 0, costUsd: 0, runs: 0 });
      await w.startWorkerRun('t1', { runId: 't1.a1', startedAt: 10, deadlineAt: 70 });
      const first = await w.endWorkerRun('t1', 't1.a1', { next: 'retrying', attempt: { ...attempt('t1.a1', 'failed'), usage: u1 }, retryAt: 0 });
      expect(first.history[0]!.usage).toEqual(u1);
      expect(first.usage).toEqual({ input: 120, output: 30, cacheRead: 400, cacheCreation: 50, costUsd: 0.0125, runs: 1 });
      // A lost run reports nothing: it adds no run to the totals.
      await w.startWorkerRun('t1', { runId: 't1.a2', startedAt: 20, deadlineAt: 80 });
      await w.endWorkerRun('t1', 't1.a2', { next: 'retrying', attempt: { ...attempt('t1.a2', 'lost', 2), usage: null }, retryAt: 0 });
      await w.startWorkerRun('t1', { runId: 't1.a3', startedAt: 30, deadlineAt: 90 });
      const failed = await w.endWorkerRun('t1', 't1.a3', { next: 'failed', attempt: { ...attempt('t1.a3', 'failed', 3), usage: u2 } });
      // The same end again (an engine that read the run twice) is refused, and counts nothing.
      await rejects(w.endWorkerRun('t1', 't1.a3', { next: 'failed', attempt: { ...attempt('t1.a3', 'failed', 3), usage: u2 } }), 'invalid_state');
      const both = { input: 127, output: 33, cacheRead: 400, cacheCreation: 50, runs: 2 };
      expect(failed.usage).toMatchObject(both);
      expect(failed.usage.costUsd).toBeCloseTo(0.2625, 12);
      expect(failuresSinceRequeue(failed)).toBe(2);
      // The operator's requeue keeps what was spent; the next run adds to it.
      const back = await w.requeueWorkerTask('t1');
      expect(back.usage).toMatchObject(both);
      expect(failuresSinceRequeue(back)).toBe(0);
      await w.startWorkerRun('t1', { runId: 't1.a4', startedAt: 40, deadlineAt: 100 });
      await w.endWorkerRun('t1', 't1.a4', { next: 'completed', attempt: { ...attempt('t1.a4', 'completed', 4), usage: u3 }, result: 'ok' });
      for (const t of [await w.getWorkerTask('t1'), (await w.listWorkerTasks({ worker: 'fabien', states: ['completed'] }))[0]]) {
        expect(t!.usage).toMatchObject({ input: 128, output: 35, cacheRead: 403, cacheCreation: 54, runs: 3 });
        expect(t!.usage.costUsd).toBeCloseTo(0.2625, 12);
        expect(t!.history.map((a) => a.usage ?? null)).toEqual([u1, null, u2, u3]);
      }
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

    it('a claim starts the due tasks of one worker in order (priority, then age, then id), at most limit, each leased to the claimer', async () => {
      await w.createWorkerTask(input('b'));
      await w.createWorkerTask(input('a'));
      now.t += 1;
      await w.createWorkerTask(input('hi', { priority: 9 }));
      await w.createWorkerTask(input('other', { worker: 'anga' }));
      now.t += 10;
      const c = await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 2, leaseMs: 5_000 });
      expect(c.orphans).toEqual([]);
      expect(c.started.map((t) => t.taskId)).toEqual(['hi', 'a']);
      expect(c.started[0]).toMatchObject({ state: 'running', attempts: 1, runId: 'hi.a1', startedAt: now.t, deadlineAt: now.t + 60_000, lease: { holder: 'n1', expiresAt: now.t + 5_000 } });
      const next = await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 5, leaseMs: 5_000 });
      expect(next.started.map((t) => [t.taskId, t.lease?.holder])).toEqual([['b', 'n2']]);
      expect((await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 5, leaseMs: 5_000 })).started).toEqual([]);
      expect((await w.workerTaskCounts()).get('fabien')).toMatchObject({ queued: 0, running: 3 });
      expect((await w.getWorkerTask('other'))!.state).toBe('queued');
      // A claim of no slots still answers (it can only take back the claimer's own lapsed leases).
      expect(await w.claimWorkerRuns('anga', { holder: 'n1', limit: 0, leaseMs: 5_000 })).toEqual({ started: [], orphans: [] });
      await rejects(w.claimWorkerRuns('fabien', { holder: '', limit: 1, leaseMs: 5_000 }), 'invalid_input');
      await rejects(w.claimWorkerRuns('fabien', { holder: 'n1', limit: 1, leaseMs: 0 }), 'invalid_input');
    });

    it('a retrying task is claimed once its backoff ended, as its next attempt', async () => {
      await w.createWorkerTask(input('t1'));
      const [run] = (await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 1, leaseMs: 5_000 })).started;
      const lease = { taskId: 't1', holder: 'n1', token: run!.lease!.token };
      await w.endWorkerRun('t1', 't1.a1', { next: 'retrying', attempt: attempt('t1.a1', 'failed'), retryAt: now.t + 1_000 }, lease);
      expect((await w.getWorkerTask('t1'))!.lease).toBeNull();
      expect((await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 1, leaseMs: 5_000 })).started).toEqual([]);
      now.t += 1_000;
      const again = (await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 1, leaseMs: 5_000 })).started;
      expect(again.map((t) => [t.runId, t.attempts, t.state, t.lease?.holder])).toEqual([['t1.a2', 2, 'running', 'n2']]);
      expect(again[0]!.lease!.token).toBeGreaterThan(run!.lease!.token);
    });

    it('only the lease a run was claimed with ends it; an unfenced end of a claimed run is refused', async () => {
      await w.createWorkerTask(input('t1'));
      const [run] = (await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 1, leaseMs: 5_000 })).started;
      const token = run!.lease!.token;
      const done = { next: 'completed' as const, attempt: attempt('t1.a1', 'completed'), result: 'ok' };
      await rejects(w.endWorkerRun('t1', 't1.a1', done), 'stale_fence');
      await rejects(w.endWorkerRun('t1', 't1.a1', done, { taskId: 't1', holder: 'n2', token }), 'stale_fence');
      await rejects(w.endWorkerRun('t1', 't1.a1', done, { taskId: 't1', holder: 'n1', token: token + 1 }), 'stale_fence');
      expect((await w.getWorkerTask('t1'))!.state).toBe('running');
      expect(await w.endWorkerRun('t1', 't1.a1', done, { taskId: 't1', holder: 'n1', token })).toMatchObject({ state: 'completed', result: 'ok', lease: null });
    });

    it('a lapsed lease goes to the next claimer under a new token: the old holder can neither renew nor end the run; the new one records it and runs it again', async () => {
      await w.createWorkerTask(input('t1'));
      await w.createWorkerTask(input('t2'));
      const mine = (await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 2, leaseMs: 5_000 })).started;
      const old = (id: string) => ({ taskId: id, holder: 'n1', token: mine.find((t) => t.taskId === id)!.lease!.token });
      now.t += 4_000;
      // Renewed in time: t1's lease runs on; t2's is not renewed.
      expect(await w.renewWorkerLeases('n1', [old('t1')], 5_000)).toEqual([]);
      now.t += 1_500;
      // Another's lapsed run takes one of the claimer's free slots: with none, it is left for a node that has one.
      expect(await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 0, leaseMs: 5_000 })).toEqual({ started: [], orphans: [] });
      await w.createWorkerTask(input('t3'));
      const taken = await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 1, leaseMs: 5_000 });
      // The one slot went to t2's run: t3 waits.
      expect(taken.started).toEqual([]);
      expect(taken.orphans.map((t) => [t.taskId, t.state, t.runId, t.lease?.holder])).toEqual([['t2', 'running', 't2.a1', 'n2']]);
      const newToken = taken.orphans[0]!.lease!.token;
      expect(newToken).toBeGreaterThan(old('t2').token);
      // n1 learns it lost t2 (and keeps t1); its end of t2 is refused.
      expect(await w.renewWorkerLeases('n1', [old('t1'), old('t2')], 5_000)).toEqual(['t2']);
      await rejects(w.endWorkerRun('t2', 't2.a1', { next: 'completed', attempt: attempt('t2.a1', 'completed'), result: 'stale' }, old('t2')), 'stale_fence');
      // n2 records the vanished run as lost and runs it again.
      await w.endWorkerRun('t2', 't2.a1', { next: 'retrying', attempt: attempt('t2.a1', 'lost'), retryAt: now.t }, { taskId: 't2', holder: 'n2', token: newToken });
      // The claimer's own lapsed run (its renewals came late) keeps its slot: taken back with no free one.
      now.t += 6_000;
      expect((await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 0, leaseMs: 5_000 })).orphans.map((t) => t.taskId)).toEqual(['t1']);
      const again = (await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 2, leaseMs: 5_000 })).started;
      expect(again.map((t) => t.runId)).toEqual(['t2.a2', 't3.a1']);
      const t2 = await w.getWorkerTask('t2');
      expect(t2!.history.map((a) => a.outcome)).toEqual(['lost']);
      expect(failuresSinceRequeue(t2!)).toBe(0);
    });

    it('a cancelled run keeps its lease until its holder records it; a requeue drops the lease', async () => {
      await w.createWorkerTask(input('t1'));
      const [run] = (await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 1, leaseMs: 5_000 })).started;
      const lease = { taskId: 't1', holder: 'n1', token: run!.lease!.token };
      await w.cancelWorkerTask('t1', 'stop');
      expect(await w.renewWorkerLeases('n1', [lease], 5_000)).toEqual([]);
      // A cancelled task is no one's to take over, however long its lease lapsed.
      now.t += 60_000;
      expect((await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 5, leaseMs: 5_000 })).orphans).toEqual([]);
      await w.requeueWorkerTask('t1');
      expect(await w.renewWorkerLeases('n1', [lease], 5_000)).toEqual(['t1']);
      await rejects(w.endWorkerRun('t1', 't1.a1', { next: 'cancelled', attempt: attempt('t1.a1', 'cancelled') }, lease), 'invalid_state');
      const [next] = (await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 1, leaseMs: 5_000 })).started;
      expect(next).toMatchObject({ runId: 't1.a2', state: 'running', lease: { holder: 'n2' } });
    });

    it('a breaker swap writes only at the version it was decided from; a refused one returns what won', async () => {
      const first = await w.swapWorkerBreaker('fabien', 0, { state: 'closed', failures: 1, openedAt: null });
      expect(first).toMatchObject({ swapped: true, breaker: { failures: 1, version: 1 } });
      const stale = await w.swapWorkerBreaker('fabien', 0, { state: 'closed', failures: 7, openedAt: null });
      expect(stale).toMatchObject({ swapped: false, breaker: { failures: 1, version: 1 } });
      const trial = { holder: 'n1', taskId: 't1', at: 5 };
      expect(await w.swapWorkerBreaker('fabien', 1, { state: 'half_open', failures: 3, openedAt: null, trial })).toMatchObject({ swapped: true, breaker: { trial, version: 2 } });
      expect((await w.workerBreakers()).get('fabien')).toMatchObject({ state: 'half_open', trial, version: 2 });
      await expect(w.swapWorkerBreaker('fabien', 2, { state: 'shut' as never, failures: 0, openedAt: null })).rejects.toThrow(QueueError);
    });

    it('two claimers race for the half-open trial: exactly one wins it and starts one run; the other starts none', async () => {
      const policy: BreakerPolicy = { threshold: 2, openMs: 1_000 };
      for (let i = 0; i < 4; i++) await w.createWorkerTask(input(`t${i}`));
      await w.saveWorkerBreaker('fabien', { state: 'open', failures: 2, openedAt: now.t });
      now.t += 1_000;
      // Both read the same breaker, then each takes the trial (a pure decision) and writes it.
      const seen = await readWorkerBreaker(w, 'fabien');
      const takes = await Promise.all(['n1', 'n2'].map((holder) => transitionWorkerBreaker(w, 'fabien', (b) => breakerTakeTrial(b, policy, now.t, holder) ?? b, seen).then((r) => ({ holder, ...r }))));
      const winners = takes.filter((t) => t.changed);
      expect(winners).toHaveLength(1);
      const winner = winners[0]!.holder;
      const loser = winner === 'n1' ? 'n2' : 'n1';
      const after = await readWorkerBreaker(w, 'fabien');
      expect(after.breaker.trial).toMatchObject({ holder: winner, taskId: null });
      // Each claims as its breaker allows: the loser none (and none with the version it read before),
      // the winner one.
      const claims = await Promise.all(
        [loser, winner].map((holder) =>
          w.claimWorkerRuns('fabien', { holder, limit: 3, leaseMs: 5_000, breakerVersion: holder === winner ? after.version : seen.version, maxNew: holder === winner ? 1 : 3 }),
        ),
      );
      expect(claims.map((c) => c.started.length)).toEqual([0, 1]);
      expect(breakerStartLimit(after.breaker, policy, now.t, loser, 3)).toBe(0);
      const bound = await transitionWorkerBreaker(w, 'fabien', (b) => breakerBindTrial(b, winner, claims[1]!.started[0]!.taskId));
      expect(bound.breaker.trial).toMatchObject({ holder: winner, taskId: claims[1]!.started[0]!.taskId });
      expect(await w.listWorkerTasks({ worker: 'fabien', states: ['running'], limit: 10 })).toHaveLength(1);
    });

    it('consecutive failures recorded by two nodes at once all count, and open the breaker once at the threshold', async () => {
      const policy: BreakerPolicy = { threshold: 9, openMs: 60_000 };
      await Promise.all(Array.from({ length: 12 }, (_, i) => transitionWorkerBreaker(w, 'fabien', (b) => breakerOnFailure(b, policy, now.t + (i < 9 ? 0 : 1)))));
      const b = await readWorkerBreaker(w, 'fabien');
      expect(b.breaker).toMatchObject({ state: 'open', failures: 12 });
      expect(b.version).toBe(12);
    });

    it('a claim starts no new run if the breaker changed since its limit was decided, but still takes over lapsed runs', async () => {
      for (let i = 0; i < 3; i++) await w.createWorkerTask(input(`t${i}`));
      await w.claimWorkerRuns('fabien', { holder: 'n1', limit: 1, leaseMs: 1_000 });
      now.t += 2_000;
      await w.saveWorkerBreaker('fabien', { state: 'closed', failures: 1, openedAt: null });
      const c = await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 3, leaseMs: 5_000, breakerVersion: 0 });
      expect(c.started).toEqual([]);
      expect(c.orphans.map((t) => t.taskId)).toEqual(['t0']);
      const d = await w.claimWorkerRuns('fabien', { holder: 'n2', limit: 3, leaseMs: 5_000, breakerVersion: 1, maxNew: 1 });
      expect(d.started.map((t) => t.taskId)).toEqual(['t1']);
    });

    it('claims racing from two holders never hand out one task twice', async () => {
      for (let i = 0; i < 30; i++) await w.createWorkerTask(input(`t${String(i).padStart(2, '0')}`));
      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => w.claimWorkerRuns('fabien', { holder: i % 2 ? 'n1' : 'n2', limit: 2, leaseMs: 5_000 })));
      const ids = claims.flatMap((c) => c.started.map((t) => t.taskId));
      expect(ids).toHaveLength(30);
      expect(new Set(ids).size).toBe(30);
      const running = await w.listWorkerTasks({ worker: 'fabien', states: ['running'], limit: 100 });
      expect(running).toHaveLength(30);
      for (const t of running) expect(claims.some((c) => c.started.some((s) => s.taskId === t.taskId && s.lease!.holder === t.lease!.holder))).toBe(true);
    });
  });
}
