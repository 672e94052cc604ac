/**
 * The heartbeat files are written synchronously (cheapest in CPU), so a beat over many agents lets
 * the event loop run between files: a wake or hook that arrives mid-beat is handled then, not after
 * the last file. Real files in a temp dir.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Heartbeats, type AgentHeartbeat } from '../../src/daemon/heartbeats.js';
import { silentLogger } from '../../src/log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('a beat over many agents lets other work run before its last file is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-hb-yield-'));
  dirs.push(dir);
  // Enough files that writing them takes well over the slice even on a fast disk.
  const agents: AgentHeartbeat[] = Array.from({ length: 600 }, (_, i) => ({ name: `a${i}`, state: 'idle', pid: 1000 + i, generation: 0, queueDepth: 0, activeTasks: 0 }));
  const hb = new Heartbeats({ paths: { heartbeats: dir }, log: silentLogger(), intervalMs: 3_600_000, snapshot: () => agents });
  const seen: number[] = [];
  let done = false;
  const beat = hb.beat().then(() => (done = true));
  // Other work of the process: each turn records how many agent files exist when it runs.
  const other = (async () => {
    while (!done) {
      await new Promise((r) => setImmediate(r));
      if (!done) seen.push(readdirSync(dir).filter((f) => /^a\d+\.json$/.test(f)).length);
    }
  })();
  await beat;
  await other;
  expect(existsSync(join(dir, 'a599.json'))).toBe(true);
  // Ran while the beat was under way: after its first files, before its last.
  expect(seen.some((n) => n > 0 && n < agents.length)).toBe(true);
});
