/** The tasks table (schema version 2) of the SQLite store; TaskStore behaviour is in test/conformance. */
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

describe('task store', () => {
  it('is schema version 9 (2: tasks, 3: worker tasks, 4: worker breakers, 5: worker run leases, 6: tokens and cost, 7: shared breaker versions and trial, 8: worker task usage, 9: usage row retention) and migrates a version 1 database, keeping its messages', async () => {
    expect(LATEST_SCHEMA_VERSION).toBe(9);
    const old = join(dir, 'old.db');
    const db = new Database(old);
    db.exec(migrations[0]!);
    db.pragma(`application_id = ${HORNETS_APPLICATION_ID}`);
    db.pragma('user_version = 1');
    db.prepare(`INSERT INTO agents (name, profile, created_at, updated_at) VALUES ('a', 'demo', 1, 1)`).run();
    db.prepare(`INSERT INTO messages (id, agent, priority, body, state, max_attempts, available_at, created_at, updated_at) VALUES ('m1', 'a', 5, 'kept', 'queued', 5, 1, 1, 1)`).run();
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
    expect(check.pragma('user_version', { simple: true })).toBe(9);
    check.close();
  });

  it('version 8 -> 9: the usage rows already there count as met at the upgrade (a message still streaming keeps its row)', async () => {
    const old = join(dir, 'v8.db');
    const db = new Database(old);
    for (const m of migrations.slice(0, 8)) db.exec(m);
    db.pragma(`application_id = ${HORNETS_APPLICATION_ID}`);
    db.pragma('user_version = 8');
    db.prepare(`INSERT INTO agents (name, profile, created_at, updated_at) VALUES ('a', 'demo', 1, 1)`).run();
    db.prepare(`INSERT INTO usage_messages (agent, message_id, model, input, output, cache_read, cache_creation, cost_usd) VALUES ('a', 'msg_1', 'm', 1, 2, 0, 0, 0)`).run();
    db.prepare(`INSERT INTO agent_usage (agent, input, output, messages) VALUES ('a', 1, 2, 1)`).run();
    db.close();
    const before = Date.now();
    const s = await openSqliteStore(old);
    await s.close();
    const check = new Database(old, { readonly: true });
    const row = check.prepare(`SELECT seen_at AS seenAt FROM usage_messages WHERE message_id = 'msg_1'`).get() as { seenAt: number };
    expect(row.seenAt).toBeGreaterThanOrEqual(before - 1000);
    expect(row.seenAt).toBeLessThanOrEqual(Date.now() + 1000);
    expect(check.prepare(`SELECT pruned_before AS p FROM agent_usage WHERE agent = 'a'`).get()).toEqual({ p: null });
    check.close();
  });

  it('a version 7 database keeps its worker tasks: their totals start at nothing (their runs reported none), and the next run adds its own', async () => {
    const old = join(dir, 'v7.db');
    const db = new Database(old);
    for (const m of migrations.slice(0, 7)) db.exec(m);
    db.pragma(`application_id = ${HORNETS_APPLICATION_ID}`);
    db.pragma('user_version = 7');
    const history = JSON.stringify([{ attempt: 1, runId: 'w1.a1', outcome: 'failed', exitCode: 1, signal: null, startedAt: 1, endedAt: 2, error: 'x' }]);
    db.prepare(
      `INSERT INTO worker_tasks (task_id, worker, description, priority, timeout_ms, max_retries, state, attempts, run_id, history, created_at, updated_at) VALUES ('w1', 'fab', 'd', 5, 1000, 3, 'retrying', 1, 'w1.a1', ?, 1, 1)`,
    ).run(history);
    db.close();
    const s = await openSqliteStore(old);
    try {
      const t = (await s.workerTasks.getWorkerTask('w1'))!;
      expect(t.usage).toEqual({ input: 0, output: 0, cacheRead: 0, cacheCreation: 0, costUsd: 0, runs: 0 });
      expect(t.history[0]!.usage).toBeUndefined();
      await s.workerTasks.startWorkerRun('w1', { runId: 'w1.a2', startedAt: 3, deadlineAt: 1003 });
      const usage = { input: 5, output: 6, cacheRead: 7, cacheCreation: 8, costUsd: 0.5, costSource: 'cli' as const, model: null };
      const done = await s.workerTasks.endWorkerRun('w1', 'w1.a2', {
        next: 'completed',
        attempt: { attempt: 2, runId: 'w1.a2', outcome: 'completed', exitCode: 0, signal: null, startedAt: 3, endedAt: 4, error: null, usage },
        result: 'ok',
      });
      expect(done.usage).toEqual({ input: 5, output: 6, cacheRead: 7, cacheCreation: 8, costUsd: 0.5, runs: 1 });
    } finally {
      await s.close();
    }
  });
  // The backend-neutral task tests moved to test/conformance/task-store-conformance.ts.
});
