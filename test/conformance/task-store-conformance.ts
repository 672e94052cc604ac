/**
 * Backend-neutral conformance suite for TaskStore (and its part in MessageStore.prune). Like
 * store-conformance.ts it uses only the public interfaces and an injected clock, so a Redis store
 * can run the same suite.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { QueueError } from '../../src/errors.js';
import type { MessageStore, StoreOptions, TaskStore } from '../../src/queue/store.js';
import { isTaskStore } from '../../src/queue/store.js';

export type TaskStoreFactory = (opts: StoreOptions) => Promise<{ store: MessageStore & TaskStore; cleanup: () => Promise<void> }>;

const T0 = 1_000_000;
const HOUR = 3_600_000;
const input = { taskId: 't1', agent: 'marie', description: 'do it', priority: 5, timeoutMs: 60_000, maxRetries: 1, from: null, source: '{}' };

export function runTaskStoreConformance(backendName: string, factory: TaskStoreFactory): void {
  describe(`TaskStore conformance: ${backendName}`, () => {
    const now = { t: T0 };
    let store: MessageStore & TaskStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      now.t = T0;
      ({ store, cleanup } = await factory({ clock: () => now.t, random: () => 0.5 }));
      await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
    });

    afterEach(async () => {
      await cleanup();
    });

    it('is a TaskStore', () => {
      expect(isTaskStore(store)).toBe(true);
    });

    it('create is idempotent on task_id', async () => {
      const a = await store.createTask(input);
      expect(a.created).toBe(true);
      expect(a.task).toMatchObject({ taskId: 't1', state: 'queued', attempts: 0, messageId: null, createdAt: T0, source: '{}' });
      const b = await store.createTask({ ...input, description: 'something else' });
      expect(b.created).toBe(false);
      expect(b.task.description).toBe('do it');
    });

    it('rejects bad input and unknown agents', async () => {
      await expect(store.createTask({ ...input, description: ' ' })).rejects.toMatchObject({ code: 'empty_body' });
      await expect(store.createTask({ ...input, priority: 500 })).rejects.toMatchObject({ code: 'invalid_priority' });
      await expect(store.createTask({ ...input, maxRetries: -1 })).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(store.createTask({ ...input, agent: 'ghost' })).rejects.toMatchObject({ code: 'unknown_agent' });
    });

    it('walks the life cycle, with attempts, due queries and events', async () => {
      await store.createTask(input);
      let t = await store.startTaskAttempt('t1', 'm1');
      expect(t).toMatchObject({ attempts: 1, messageId: 'm1', state: 'queued' });
      // The same attempt again (a crash between enqueue and record) changes nothing.
      expect(await store.startTaskAttempt('t1', 'm1')).toMatchObject({ attempts: 1 });
      t = await store.markTaskRunning('t1', { startedAt: T0 + 100, deadlineAt: T0 + 60_100 });
      expect(t.state).toBe('running');
      expect(await store.tasksDueForTimeout(T0 + 60_099)).toEqual([]);
      expect((await store.tasksDueForTimeout(T0 + 60_100)).map((x) => x.taskId)).toEqual(['t1']);
      t = await store.markTaskRetrying('t1', { error: 'timed out', retryAt: T0 + 70_000 });
      expect(t).toMatchObject({ state: 'retrying', lastError: 'timed out', deadlineAt: null });
      expect(await store.tasksDueForRetry(T0 + 69_999)).toEqual([]);
      expect((await store.tasksDueForRetry(T0 + 70_000)).map((x) => x.taskId)).toEqual(['t1']);
      t = await store.startTaskAttempt('t1', 'm2');
      expect(t).toMatchObject({ attempts: 2, messageId: 'm2', state: 'queued', retryAt: null });
      expect((await store.taskCounts()).get('marie')).toMatchObject({ queued: 1, running: 0 });
      // Named agents only: an engine counts its own.
      expect((await store.taskCounts(['marie'])).get('marie')).toMatchObject({ queued: 1, running: 0 });
      expect((await store.taskCounts(['someone-else'])).has('marie')).toBe(false);
      now.t = 2_000_000;
      t = await store.markTaskDone('t1', { result: 'ok' });
      expect(t).toMatchObject({ state: 'completed', result: 'ok', completedAt: 2_000_000 });
      await expect(store.markTaskFailed('t1', { error: 'late' })).rejects.toMatchObject({ code: 'invalid_state' });
      await expect(store.markTaskRunning('nope', { startedAt: 1, deadlineAt: 2 })).rejects.toMatchObject({ code: 'not_found' });
      const kinds = (await store.events({ agent: 'marie' })).map((e) => e.kind).filter((k) => k.startsWith('task_'));
      expect(kinds).toEqual(['task_created', 'task_attempt', 'task_running', 'task_retrying', 'task_attempt', 'task_completed']);
      expect(await store.listTasks({ states: ['completed'] })).toHaveLength(1);
      expect(await store.listTasks({ agent: 'other' })).toEqual([]);
    });

    it('prune removes completed and failed tasks older than the age; open tasks and their messages stay', async () => {
      const old = await store.enqueue({ agent: 'marie', body: 'attempt of the open task' });
      await store.cancel([old.message.id]);
      await store.createTask({ ...input, taskId: 'open' });
      await store.startTaskAttempt('open', old.message.id);
      await store.createTask({ ...input, taskId: 'done' });
      await store.markTaskDone('done', { result: 'r' });
      await store.createTask({ ...input, taskId: 'failed' });
      await store.markTaskFailed('failed', { error: 'e' });
      now.t += 3 * HOUR;
      await store.createTask({ ...input, taskId: 'recent' });
      await store.markTaskDone('recent', { result: 'r' });

      const r = await store.prune({ olderThanMs: 2 * HOUR });
      expect(r.tasks).toBe(2);
      expect(r.messages).toBe(0);
      expect((await store.listTasks()).map((t) => t.taskId).sort()).toEqual(['open', 'recent']);
      expect((await store.get(old.message.id)).state).toBe('cancelled');
      // A pruned task id may be used again.
      expect((await store.createTask({ ...input, taskId: 'done' })).created).toBe(true);
      await expect(store.prune({ olderThanMs: 60_000 })).rejects.toBeInstanceOf(QueueError);
    });
  });
}
