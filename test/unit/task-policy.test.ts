import { describe, expect, it } from 'vitest';
import { holdsAgent, nextTaskStep, nextTaskToStart, retryDecision, type TaskMessageView } from '../../src/domain/task-policy.js';
import type { Task } from '../../src/domain/task.js';

const NOW = 1_000_000;

function task(p: Partial<Task> = {}): Task {
  return {
    taskId: 't',
    agent: 'marie',
    description: 'd',
    priority: 5,
    timeoutMs: 60_000,
    maxRetries: 2,
    from: null,
    state: 'queued',
    attempts: 1,
    messageId: 'm1',
    startedAt: null,
    deadlineAt: null,
    retryAt: null,
    result: null,
    lastError: null,
    source: null,
    createdAt: 0,
    updatedAt: 0,
    completedAt: null,
    ...p,
  };
}

function msg(p: Partial<TaskMessageView> = {}): TaskMessageView {
  return { id: 'm1', state: 'queued', deliveredAt: null, lastError: null, deadReason: null, ...p };
}

const running = task({ state: 'running', startedAt: 500, deadlineAt: 60_500 });
const delivered = msg({ state: 'delivered', deliveredAt: 500 });

describe('nextTaskStep', () => {
  it.each<[string, Task, TaskMessageView | null, number | null, number, ReturnType<typeof nextTaskStep>]>([
    ['queued, message waiting', task(), msg(), null, NOW, { kind: 'wait' }],
    ['queued, message delivered -> running with deadline from delivery', task(), delivered, null, NOW, { kind: 'running', startedAt: 500, deadlineAt: 60_500 }],
    ['queued, confirmed also counts as delivered', task(), msg({ state: 'confirmed', deliveredAt: 700 }), null, NOW, { kind: 'running', startedAt: 700, deadlineAt: 60_700 }],
    ['running, no Stop yet', running, delivered, null, 1_000, { kind: 'wait' }],
    ['running, Stop before delivery does not count', running, delivered, 400, 1_000, { kind: 'wait' }],
    ['running, Stop at the delivery instant (the handing-over hook) does not count', running, delivered, 500, 1_000, { kind: 'wait' }],
    ['running, Stop after delivery completes', running, delivered, 501, 1_000, { kind: 'completed' }],
    ['running, Stop after delivery wins over a passed deadline', running, delivered, 501, 70_000, { kind: 'completed' }],
    ['running, deadline not yet', running, delivered, null, 60_499, { kind: 'wait' }],
    ['running, deadline passed', running, delivered, null, 60_500, { kind: 'attempt_failed', failure: 'timeout', reason: 'timed out after 1m0s (attempt 1)' }],
    ['running, message requeued', running, msg({ state: 'queued', deliveredAt: null }), null, 1_000, { kind: 'requeued' }],
    ['running, redelivered later', running, msg({ state: 'delivered', deliveredAt: 900 }), null, 1_000, { kind: 'requeued' }],
    ['message gone', task(), null, null, NOW, { kind: 'attempt_failed', failure: 'missing', reason: 'its message m1 no longer exists' }],
    ['message dead', task(), msg({ state: 'dead', deadReason: 'poison' }), null, NOW, { kind: 'attempt_failed', failure: 'dead', reason: 'its message m1 was dead-lettered: poison' }],
    ['message expired', task(), msg({ state: 'expired' }), null, NOW, { kind: 'attempt_failed', failure: 'expired', reason: 'its message m1 expired before delivery' }],
    ['message cancelled ends the task', running, msg({ state: 'cancelled', lastError: 'by bob' }), 501, NOW, { kind: 'failed', failure: 'cancelled', reason: 'its message m1 was cancelled (by bob)' }],
    ['no message yet', task({ messageId: null }), null, null, NOW, { kind: 'wait' }],
    ['retrying is not checked here', task({ state: 'retrying' }), msg({ state: 'dead' }), null, NOW, { kind: 'wait' }],
    ['completed is not checked', task({ state: 'completed' }), delivered, 900, NOW, { kind: 'wait' }],
  ])('%s', (_name, t, m, stopAt, now, expected) => {
    expect(nextTaskStep(t, m, stopAt, now)).toEqual(expected);
  });
});

describe('nextTaskToStart (one task per agent at a time)', () => {
  const waiting = (id: string, p: Partial<Task> = {}) => task({ taskId: id, messageId: null, attempts: 0, ...p });
  it.each<[string, Task[], number, string | null]>([
    ['nothing open', [], NOW, null],
    ['one waiting', [waiting('a')], NOW, 'a'],
    ['three dropped at once: the oldest first', [waiting('c', { createdAt: 3 }), waiting('a', { createdAt: 1 }), waiting('b', { createdAt: 2 })], NOW, 'a'],
    ['same age: by id', [waiting('b'), waiting('a')], NOW, 'a'],
    ['higher priority first', [waiting('a', { createdAt: 1 }), waiting('b', { createdAt: 2, priority: 30 })], NOW, 'b'],
    ['another task has its message out', [task({ taskId: 'x' }), waiting('a')], NOW, null],
    ['another task is running', [task({ taskId: 'x', state: 'running' }), waiting('a')], NOW, null],
    ['a task backing off does not hold the agent', [task({ taskId: 'x', state: 'retrying', retryAt: NOW + 1 }), waiting('a')], NOW, 'a'],
    ['retry due competes like a new task', [task({ taskId: 'x', state: 'retrying', retryAt: NOW, createdAt: 0 }), waiting('a', { createdAt: 5 })], NOW, 'x'],
    ['retry not due yet', [task({ taskId: 'x', state: 'retrying', retryAt: NOW + 1 })], NOW, null],
  ])('%s', (_name, tasks, now, expected) => {
    expect(nextTaskToStart(tasks, now)?.taskId ?? null).toBe(expected);
  });

  it('holdsAgent', () => {
    expect(holdsAgent(task())).toBe(true);
    expect(holdsAgent(task({ messageId: null }))).toBe(false);
    expect(holdsAgent(task({ state: 'running' }))).toBe(true);
    expect(holdsAgent(task({ state: 'retrying' }))).toBe(false);
  });
});

describe('retryDecision', () => {
  const backoff = { baseMs: 10_000, maxMs: 1_800_000 };
  it.each<[number, number, ReturnType<typeof retryDecision>]>([
    [1, 2, { retry: true, retryAt: NOW + 10_000, delayMs: 10_000 }],
    [2, 2, { retry: true, retryAt: NOW + 20_000, delayMs: 20_000 }],
    [3, 2, { retry: false, reason: 'boom; gave up after 3 attempts' }],
    [1, 0, { retry: false, reason: 'boom' }],
    [12, 20, { retry: true, retryAt: NOW + 1_800_000, delayMs: 1_800_000 }],
  ])('attempt %d of max_retries %d', (attempts, maxRetries, expected) => {
    expect(retryDecision({ attempts, maxRetries }, 'boom', NOW, backoff, () => 1)).toEqual(expected);
  });
});
