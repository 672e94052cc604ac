/**
 * Several processes on one database file (DESIGN.md §3): 4 enqueue while 4 claim+ack, all at once.
 * No process may see an error (SQLITE_BUSY surfacing as QueueError 'busy' in particular), every
 * message is claimed exactly once, and the file passes integrity_check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { killConcurrencyWorkers, runConcurrentWorkers } from '../helpers/concurrency-harness.js';

const ENQUEUERS = 4;
const CLAIMERS = 4;
const PER_ENQUEUER = 1_500;
const AGENTS = ['alpha', 'beta'];

let dir: string | undefined;

afterEach(async () => {
  await killConcurrencyWorkers();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('SqliteMessageStore under concurrent processes', () => {
  it(`${ENQUEUERS} enqueuers and ${CLAIMERS} claimers on one file: no errors, each message claimed once`, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-concurrency-'));
    const dbPath = path.join(dir, 'hornets.db');
    const setup = await openSqliteStore(dbPath);
    await setup.registerAgents(AGENTS.map((name) => ({ name, profile: 'shell' })));
    await setup.close();

    const { enqueued, claimed, claimedPerWorker, errors } = await runConcurrentWorkers(dbPath, { enqueuers: ENQUEUERS, claimers: CLAIMERS, perEnqueuer: PER_ENQUEUER, agents: AGENTS });

    expect(errors).toEqual([]);
    expect(enqueued).toHaveLength(ENQUEUERS * PER_ENQUEUER);
    expect(new Set(enqueued).size).toBe(enqueued.length);
    // Exactly once: same multiset of ids, no duplicates, nothing left over.
    expect(claimed).toHaveLength(enqueued.length);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect([...claimed].sort()).toEqual([...enqueued].sort());
    // The claimers genuinely competed.
    expect(claimedPerWorker.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);

    const store = await openSqliteStore(dbPath);
    try {
      expect(store.integrityCheck()).toBe('ok');
      const stats = await store.stats();
      expect(stats.totals.delivered).toBe(enqueued.length);
      expect(stats.totals.queued + stats.totals.leased + stats.totals.failed).toBe(0);
      for (const a of stats.agents) expect(a.pending).toBe(a.counts.delivered);
    } finally {
      await store.close();
    }
  });
});
