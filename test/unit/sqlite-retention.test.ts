/** SQLite side of retention: new files shrink after a prune (incremental vacuum); old files still prune. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HORNETS_APPLICATION_ID, migrations } from '../../src/queue/sqlite/migrations.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';

let dir: string;
const now = { t: 1_700_000_000_000 };
const DAY = 86_400_000;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hornets-retention-'));
  now.t = 1_700_000_000_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function autoVacuum(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return Number(db.pragma('auto_vacuum', { simple: true }));
  } finally {
    db.close();
  }
}

/** A database as versions before auto-vacuum made it: the same schema, auto_vacuum off. */
function oldDatabase(): string {
  const path = join(dir, 'old.db');
  const db = new Database(path);
  for (const m of migrations) db.exec(m);
  db.pragma(`application_id = ${HORNETS_APPLICATION_ID}`);
  db.pragma(`user_version = ${migrations.length}`);
  db.close();
  return path;
}

describe('sqlite retention', () => {
  it('a new database is incremental auto-vacuum and gives the pruned space back', async () => {
    const path = join(dir, 'hornets.db');
    const store = await openSqliteStore(path, { clock: () => now.t });
    await store.registerAgents([{ name: 'a', profile: 'demo' }]);
    const body = 'x'.repeat(2_000);
    for (let i = 0; i < 20; i++) {
      const r = await store.enqueueBatch(Array.from({ length: 100 }, () => ({ agent: 'a', body })));
      await store.cancel(r.map((x) => x.message.id));
    }
    const pagesBefore = Number((store as unknown as { c: { db: Database.Database } }).c.db.pragma('page_count', { simple: true }));
    now.t += 8 * DAY;
    const r = await store.prune({ olderThanMs: 7 * DAY });
    expect(r.messages).toBe(2_000);
    expect(r.reclaimedBytes).toBeGreaterThan(2_000 * 2_000 * 0.8);
    expect(store.integrityCheck()).toBe('ok');
    const pagesAfter = Number((store as unknown as { c: { db: Database.Database } }).c.db.pragma('page_count', { simple: true }));
    expect(pagesAfter).toBeLessThan(pagesBefore / 4);
    await store.close();
    expect(autoVacuum(path)).toBe(2);
    expect(statSync(path).size).toBeLessThan((pagesBefore * 4096) / 4);
  });

  it('an existing database without auto-vacuum keeps working: prune removes rows, reclaims nothing', async () => {
    const path = oldDatabase();
    const store = await openSqliteStore(path, { clock: () => now.t });
    await store.registerAgents([{ name: 'a', profile: 'demo' }]);
    const m = await store.enqueue({ agent: 'a', body: 'old' });
    await store.cancel([m.message.id]);
    now.t += 2 * DAY;
    const r = await store.prune({ olderThanMs: DAY });
    expect(r).toMatchObject({ messages: 1, reclaimedBytes: 0 });
    await store.close();
    expect(autoVacuum(path)).toBe(0);
  });

  it('--compact rewrites an old database: space back, and incremental auto-vacuum from then on', async () => {
    const path = oldDatabase();
    const store = await openSqliteStore(path, { clock: () => now.t });
    await store.registerAgents([{ name: 'a', profile: 'demo' }]);
    const r1 = await store.enqueueBatch(Array.from({ length: 500 }, () => ({ agent: 'a', body: 'y'.repeat(4_000) })));
    await store.cancel(r1.map((x) => x.message.id));
    const kept = await store.enqueue({ agent: 'a', body: 'kept' });
    now.t += 2 * DAY;
    const r = await store.prune({ olderThanMs: DAY, compact: true });
    expect(r.messages).toBe(500);
    expect(r.reclaimedBytes).toBeGreaterThan(500 * 4_000 * 0.8);
    expect((await store.get(kept.message.id)).body).toBe('kept');
    expect(store.integrityCheck()).toBe('ok');
    await store.close();
    expect(autoVacuum(path)).toBe(2);
  });
});
