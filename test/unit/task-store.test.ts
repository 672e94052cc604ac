/** The tasks table (schema version 2) and the TaskStore methods of the SQLite store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HORNETS_APPLICATION_ID, LATEST_SCHEMA_VERSION, migrations } from '../../src/queue/sqlite/migrations.js';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { isTaskStore } from '../../src/queue/store.js';

let dir: string;
let store: SqliteMessageStore;
const now = { t: 1_000_000 };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hornets-tasks-'));
  store = await openSqliteStore(join(dir, 'hornets.db'), { clock: () => now.t });
  await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const input = { taskId: 't1', agent: 'marie', description: 'do it', priority: 5, timeoutMs: 60_000, maxRetries: 1, from: null, source: '{}' };

describe('task store', () => {
  it('is schema version 2 and migrates a version 1 database, keeping its messages', async () => {
    expect(LATEST_SCHEMA_VERSION).toBe(2);
    const old = join(dir, 'old.db');
    const db = new Database(old);
    db.exec(migrations[0]!);
    db.pragma(`application_id = ${HORNETS_APPLICATION_ID}`);
    db.pragma('user_version = 1');
    db.prepare(`INSERT INTO agents (name, profile, created_at, updated_at) VALUES ('a', 'demo', 1, 1)`).run();
    db.prepare(
      `INSERT INTO messages (id, agent, priority, body, state, max_attempts, available_at, created_at, updated_at) VALUES ('m1', 'a', 5, 'kept', 'queued', 5, 1, 1, 1)`,
    ).run();
    db.close();
    const s = await openSqliteStore(old);
    try {
      expect((await s.get('m1')).body).toBe('kept');
      expect(await s.listTasks()).toEqual([]);
      expect(isTaskStore(s)).toBe(true);
    } finally {
      await s.close();
    }
    const check = new Database(old, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
  });

  it('create is idempotent on task_id', async () => {
    const a = await store.createTask(input);
    expect(a.created).toBe(true);
    expect(a.task).toMatchObject({ taskId: 't1', state: 'queued', attempts: 0, messageId: null, createdAt: 1_000_000, source: '{}' });
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
    t = await store.markTaskRunning('t1', { startedAt: 1_000_100, deadlineAt: 1_060_100 });
    expect(t.state).toBe('running');
    expect(await store.tasksDueForTimeout(1_060_099)).toEqual([]);
    expect((await store.tasksDueForTimeout(1_060_100)).map((x) => x.taskId)).toEqual(['t1']);
    t = await store.markTaskRetrying('t1', { error: 'timed out', retryAt: 1_070_000 });
    expect(t).toMatchObject({ state: 'retrying', lastError: 'timed out', deadlineAt: null });
    expect(await store.tasksDueForRetry(1_069_999)).toEqual([]);
    expect((await store.tasksDueForRetry(1_070_000)).map((x) => x.taskId)).toEqual(['t1']);
    t = await store.startTaskAttempt('t1', 'm2');
    expect(t).toMatchObject({ attempts: 2, messageId: 'm2', state: 'queued', retryAt: null });
    expect((await store.taskCounts()).get('marie')).toMatchObject({ queued: 1, running: 0 });
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
});
