/**
 * A worker's breaker reaches its heartbeat file at once (Heartbeats.beatSoon), not at the next
 * interval: also when the change lands while a pass is writing, which may have read the state
 * before it. Real files in a temp dir; the interval is an hour, so only beatSoon can write.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Heartbeats, type AgentHeartbeat } from '../../src/daemon/heartbeats.js';
import { silentLogger } from '../../src/log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('beatSoon rewrites the files now, and once more after a pass that read the state before the change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-hb-soon-'));
  dirs.push(dir);
  let breaker = 'closed';
  let release: (() => void) | null = null;
  let holdNext = false;
  const worker = (): AgentHeartbeat => ({
    name: 'fab',
    state: 'worker',
    pid: 1,
    generation: 0,
    queueDepth: 0,
    activeTasks: 0,
    extra: { breaker, breaker_half_open_at: breaker === 'open' ? 123 : null },
  });
  const hb = new Heartbeats({
    paths: { heartbeats: dir },
    log: silentLogger(),
    intervalMs: 3_600_000,
    snapshot: async () => {
      const snap = [worker()];
      if (holdNext) {
        holdNext = false;
        await new Promise<void>((r) => (release = r));
      }
      return snap;
    },
  });
  const file = () => JSON.parse(readFileSync(join(dir, 'fab.json'), 'utf8')) as { breaker: string; breaker_half_open_at: number | null };
  await hb.start();
  expect(file()).toMatchObject({ breaker: 'closed', breaker_half_open_at: null });

  // No pass under way: written at once.
  breaker = 'open';
  hb.beatSoon();
  await until('the open breaker in the file', () => file().breaker === 'open');
  expect(file().breaker_half_open_at).toBe(123);

  // A pass under way read "open"; the breaker changes meanwhile: a second pass follows.
  holdNext = true;
  hb.beatSoon();
  await until('the pass to hold', () => release !== null);
  breaker = 'half-open';
  hb.beatSoon();
  hb.beatSoon(); // several changes during one pass still cost one more pass
  release!();
  await until('the half-open breaker in the file', () => file().breaker === 'half-open');
  await hb.stop();
});

it('an engine stopping after its project was removed leaves nothing behind: the heartbeat directory comes back, its parents never', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hornets-hb-gone-'));
  dirs.push(root);
  const heartbeats = join(root, 'project', '.hornets', 'heartbeats');
  const hb = new Heartbeats({ paths: { heartbeats }, log: silentLogger(), intervalMs: 3_600_000, snapshot: async () => [] });
  await hb.start();
  expect(existsSync(join(heartbeats, 'daemon.json'))).toBe(true);
  // Someone removed only the heartbeats: the next beat makes the directory again.
  rmSync(heartbeats, { recursive: true });
  await hb.beat();
  expect(existsSync(join(heartbeats, 'daemon.json'))).toBe(true);
  // The whole project went (a test's cleanup, `rm -rf`): the last word is not written.
  rmSync(join(root, 'project'), { recursive: true });
  await hb.stop();
  expect(existsSync(join(root, 'project'))).toBe(false);
});
