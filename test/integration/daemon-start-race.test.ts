/**
 * Issue 11 (14): the loser of two simultaneous `hornets-tui daemon start` said "did not come up
 * within 10 s" while an engine was running; it must say that one runs (with its pid). And an engine
 * that fails as it starts is reported with its own words, not a generic "exited while starting".
 * Real CLI and daemon processes.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo } from '../helpers/tmux.js';
import { pidAlive } from '../../src/engine-client/pid.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

async function project(env: Record<string, string | undefined> = {}): Promise<Project> {
  const dir = fx.dir('hornets-daemon-race-');
  initGitRepo(dir);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined, ...env });
  await p.ok(['init', '--agents', 'marie']);
  fx.defer(() => p.run(['daemon', 'stop']));
  return p;
}

describe('daemon start', () => {
  it('of two at once, one starts the engine and the other says it is already running (with its pid)', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const p = await project();
      const results = await Promise.all([p.run(['daemon', 'start', '--json']), p.run(['daemon', 'start', '--json'])]);
      const won = results.filter((r) => r.code === 0);
      const lost = results.filter((r) => r.code !== 0);
      expect(won, `try ${attempt}: ${results.map((r) => r.stderr).join('\n')}`).toHaveLength(1);
      const pid = (JSON.parse(won[0]!.stdout) as { pid: number }).pid;
      expect(pidAlive(pid)).toBe(true);
      expect(lost[0]!.code).toBe(1);
      expect(lost[0]!.stderr).toContain(`a hornets engine is already running for this project (pid ${pid})`);
      expect(lost[0]!.stderr).not.toMatch(/did not|no progress|exited while starting/);
      await p.ok(['daemon', 'stop']);
      await fx.cleanup();
    }
  }, 120_000);

  it("an engine that fails as it starts is reported with the engine's own error", async () => {
    const dir = fx.dir('hornets-daemon-fail-');
    const preload = path.join(dir, 'fail-engine.cjs');
    // The engine's own report of a failure only it can see (its database, its port), as the CLI prints it.
    writeFileSync(
      preload,
      `if (process.argv.includes('daemon') && process.argv.includes('run')) {
  process.stderr.write('hornets-tui: the queue database /x/hornets.db is read-only (SQLITE_READONLY); fix its permissions\\n');
  process.exit(1);
}
`,
    );
    const p = await project({ NODE_OPTIONS: `--require ${preload}` });
    const r = await p.run(['daemon', 'start']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the engine exited while starting: the queue database /x/hornets.db is read-only (SQLITE_READONLY); fix its permissions');
    expect(r.stderr).toContain('daemon.out');
  }, 60_000);
});
