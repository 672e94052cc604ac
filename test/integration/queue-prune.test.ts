/** `queue prune` and the engine's RetentionTimer against a real project and SQLite file. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { RetentionTimer } from '../../src/daemon/retention.js';
import { silentLogger } from '../../src/log.js';
import type { PruneResult } from '../../src/queue/store.js';
import { TempDirs, assertBuilt, firstErrorLine, newProject } from '../helpers/cli.js';

const temp = new TempDirs();
const DAY = 86_400_000;

beforeAll(() => assertBuilt());
afterAll(() => temp.removeAll());

/** Messages for marie written `ageMs` ago through an injected clock: `n` cancelled and one pending. */
async function oldTraffic(dbPath: string, ageMs: number, n: number): Promise<string> {
  const store = await openSqliteStore(dbPath, { clock: () => Date.now() - ageMs });
  try {
    const r = await store.enqueueBatch(Array.from({ length: n }, (_, i) => ({ agent: 'marie', body: `old ${i}` })));
    await store.cancel(r.map((x) => x.message.id));
    return (await store.enqueue({ agent: 'marie', body: 'still pending' })).message.id;
  } finally {
    await store.close();
  }
}

describe('queue prune', () => {
  it('removes finished messages older than the age and prints what went; pending ones stay', async () => {
    const p = await newProject(temp);
    await p.ok(['queue', 'stats']);
    const pending = await oldTraffic(p.dbPath, 10 * DAY, 5);
    await oldTraffic(p.dbPath, 2 * DAY, 3);

    const r = await p.run(['queue', 'prune', '--older-than', '3d', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as PruneResult;
    expect(out).toMatchObject({ messages: 5, events: 10 });

    const text = await p.run(['queue', 'prune']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^pruned history older than \S+: 0 messages \(0 events\), 0 tasks/);

    const dayOld = await p.run(['queue', 'prune', '--older-than', '1d', '--compact']);
    expect(dayOld.stdout).toContain('3 messages (6 events)');
    expect(dayOld.stdout).toMatch(/given back to the file system/);
    const show = await p.run(['queue', 'show', pending, '--json']);
    expect(show.code).toBe(0);
  });

  it('refuses an age under one hour, naming the option', async () => {
    const p = await newProject(temp);
    const r = await p.run(['queue', 'prune', '--older-than', '30m']);
    expect(r.code).toBe(2);
    expect(firstErrorLine(r)).toContain('--older-than 30m is too short: at least 1h');
  });
});

describe('RetentionTimer', () => {
  it('prunes once at start with the configured age, then stops', async () => {
    const p = await newProject(temp);
    await p.ok(['queue', 'stats']);
    await oldTraffic(p.dbPath, 8 * DAY, 4);
    const store = await openSqliteStore(p.dbPath);
    try {
      const results: PruneResult[] = [];
      let seen: () => void = () => undefined;
      const first = new Promise<void>((resolve) => (seen = resolve));
      const timer = new RetentionTimer({
        store,
        retention: { maxAge: '7d', interval: '1h' },
        log: silentLogger(),
        onPrune: (r) => {
          results.push(r);
          seen();
        },
      });
      await timer.start();
      await first;
      await timer.stop();
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ messages: 4 });
      expect(timer.maxAgeMs).toBe(7 * DAY);
    } finally {
      await store.close();
    }
  });
});
