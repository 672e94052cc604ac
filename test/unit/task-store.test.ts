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
  it('is schema version 7 (2: tasks, 3: worker tasks, 4: worker breakers, 5: worker run leases, 6: tokens and cost, 7: shared breaker versions and trial) and migrates a version 1 database, keeping its messages', async () => {
    expect(LATEST_SCHEMA_VERSION).toBe(7);
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
    expect(check.pragma('user_version', { simple: true })).toBe(7);
    check.close();
  });
  // The backend-neutral task tests moved to test/conformance/task-store-conformance.ts.
});
