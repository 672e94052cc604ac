/**
 * Issue 11 (14): an engine start looks at each agent's recent restart events. The query for one
 * agent's events of some kinds was written `(@agent IS NULL OR agent = @agent)`, which SQLite cannot
 * answer from the (agent, id) index: every call scanned all agents' events, so a start with n agents
 * did n full scans (quadratic). The plan of the statement the store really runs must use the index.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it("one agent's events of given kinds are read through the agent index, not a scan of every agent's", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-plans-'));
  dirs.push(dir);
  const path = join(dir, 'hornets.db');
  const store = await openSqliteStore(path);
  const seen: string[] = [];
  // The SQL the store prepares, as it prepares it.
  const conn = (store as unknown as { c: { stmt(sql: string): unknown } }).c;
  const stmt = conn.stmt.bind(conn);
  conn.stmt = (sql: string) => {
    seen.push(sql);
    return stmt(sql);
  };
  try {
    await store.registerAgents([{ name: 'marie', profile: 'demo', maxDepth: null }]);
    await store.events({ agent: 'marie', kinds: ['agent_restarted', 'agent_failed'], limit: 20_000 });
  } finally {
    await store.close();
  }
  const sql = seen.find((s) => s.includes('FROM agent_events') && s.includes('kind IN'));
  expect(sql).toBeDefined();
  const db = new Database(path, { readonly: true });
  try {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql!}`).all({ agent: 'marie', k0: 'agent_restarted', k1: 'agent_failed', limit: 20_000 }) as { detail: string }[]).map((r) => r.detail).join('\n');
    expect(plan).toMatch(/USING (COVERING )?INDEX agent_events_agent/);
  } finally {
    db.close();
  }
});
