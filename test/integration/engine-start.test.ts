/**
 * Waiting for the engine to start (issue 10): `up` of a big team on a loaded machine once failed
 * because the wait was a fixed 10 s. The wait now follows the engine's progress: one that keeps
 * using CPU is waited for, one that stops moving or dies is given up on. Real daemon processes,
 * slowed down by a preload script (NODE_OPTIONS) before the CLI runs.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt, cleanEnv } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo } from '../helpers/tmux.js';
import { loadProject } from '../../src/config/load.js';
import { awaitEngine, ensureEngine, launchEngine, stopEngine } from '../../src/engine-client/lifecycle.js';
import { pidAlive } from '../../src/engine-client/pid.js';

const fx = new TmuxFixture();
const leftovers: number[] = [];
beforeAll(() => assertBuilt());
afterEach(async () => {
  for (const pid of leftovers.splice(0)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  await fx.cleanup();
});

/**
 * A project and the environment its engine starts with: `mode` makes `daemon run` spin on the CPU
 * (a slow machine), sleep without using any (stuck) or exit, for `ms` before the CLI loads.
 */
async function slowProject(mode: 'busy' | 'sleep' | 'exit', ms: number): Promise<{ project: ReturnType<typeof loadProject>; env: NodeJS.ProcessEnv }> {
  const dir = fx.dir('hornets-engine-start-');
  initGitRepo(dir);
  const socket = fx.socket();
  await new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined }).ok(['init', '--agents', 'marie']);
  const preload = path.join(dir, 'slow-engine.cjs');
  writeFileSync(
    preload,
    `if (process.argv.includes('daemon') && process.argv.includes('run')) {
  const until = Date.now() + ${ms};
  if (${JSON.stringify(mode)} === 'exit') process.exit(3);
  if (${JSON.stringify(mode)} === 'busy') while (Date.now() < until) {}
  else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});
}
`,
  );
  const env = cleanEnv({ HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined, NODE_OPTIONS: `--require ${preload}` });
  const project = loadProject({ configPath: path.join(dir, 'hornets.json') });
  fx.defer(() => stopEngine(project).catch(() => undefined));
  return { project, env };
}

describe('waiting for the engine to start', () => {
  it('an engine that takes longer than 10 s but keeps working is waited for', async () => {
    const { project, env } = await slowProject('busy', 12_000);
    const t0 = Date.now();
    const e = await ensureEngine(project, { env });
    expect(e).toMatchObject({ started: true, ready: true });
    expect(Date.now() - t0).toBeGreaterThan(12_000);
    expect(pidAlive(e.pid)).toBe(true);
  }, 90_000);

  it('an engine that stops moving is given up on: reported as still starting for `up`, an error otherwise', async () => {
    const { project, env } = await slowProject('sleep', 60_000);
    const launch = launchEngine(project, { env });
    leftovers.push(launch.spawned!);
    const slow = await awaitEngine(project, launch, { stallMs: 1500, whenSlow: 'report' });
    expect(slow).toEqual({ started: true, pid: launch.spawned, ready: false });
    await expect(awaitEngine(project, launch, { stallMs: 1500 })).rejects.toThrow(/the engine \(pid \d+\) made no progress for 2 s/);
  }, 60_000);

  it('an engine that dies while starting is an error at once, naming its output file', async () => {
    const { project, env } = await slowProject('exit', 0);
    const t0 = Date.now();
    await expect(ensureEngine(project, { env })).rejects.toThrow(/the engine exited while starting; see .*daemon\.out/);
    expect(Date.now() - t0).toBeLessThan(9000);
  }, 60_000);
});
