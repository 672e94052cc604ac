/**
 * The seed systems' variables as their users set them (issue 16): TRIGGER_DIR and HEARTBEAT_DIR on
 * a "shared" directory outside .hornets are where the engine really reads triggers and writes
 * heartbeats; a refused one (WORKER_NAME, LOG_FORMAT=text) stops the engine at start with an error
 * naming it and what replaces it, and nothing is started. The same from the project's .env, which
 * the environment overrides.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, TempDirs, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';

const temp = new TempDirs();
const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
  temp.removeAll();
});

describe("the seeds' variables on a real engine", () => {
  it('TRIGGER_DIR and HEARTBEAT_DIR move those directories; WORKER_NAME and LOG_FORMAT=text are refused at start, naming the replacement', async () => {
    const dir = temp.make('hornets-seed-env-');
    initGitRepo(dir);
    const shared = temp.make('hornets-shared-');
    const env = { TMUX: undefined, TMUX_PANE: undefined, HORNETS_TMUX_SOCKET: fx.socket(), TRIGGER_DIR: path.join(shared, 'triggers'), HORNETS_HEARTBEAT_DIR: path.join(shared, 'heartbeats') };
    const p = new Project(dir, env);
    fx.defer(() => p.run(['down', '--timeout', '1']));
    fx.defer(() => p.run(['daemon', 'stop']));
    await p.ok(['init', '--agents', 'marie']);

    const refused = await p.run(['daemon', 'start'], { env: { WORKER_NAME: 'marie', LOG_FORMAT: 'text' } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('WORKER_NAME: "marie": one engine runs every agent of hornets.json');
    expect(refused.stderr).toContain('LOG_FORMAT: "text": hornets writes its log as JSON lines only');
    expect(existsSync(path.join(p.stateDir, 'run', 'daemon.pid')) && readFileSync(path.join(p.stateDir, 'run', 'daemon.pid'), 'utf8').trim() !== '').toBe(false);

    const relative = await p.run(['status'], { env: { TASK_DIR: 'tasks' } });
    expect(relative.code).toBe(1);
    expect(relative.stderr).toContain('TASK_DIR: "tasks" is not an absolute path');

    // The same from the project's .env (seed 003 keeps its settings there); the environment wins over it.
    writeFileSync(path.join(dir, '.env'), '# the seeds\nWORKER_NAME=anga\nTASK_DIR=tasks\n');
    const fromFile = await p.run(['daemon', 'start'], { env: { TASK_DIR: path.join(shared, 'tasks') } });
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toContain('WORKER_NAME: "anga"');
    expect((await p.run(['status'])).stderr).toContain('TASK_DIR: "tasks" is not an absolute path');
    writeFileSync(path.join(dir, '.env'), 'HEARTBEAT_INTERVAL=1\n');

    await p.ok(['up']);
    const triggers = path.join(shared, 'triggers', 'marie');
    await waitFor('the engine made the shared trigger dir', () => existsSync(triggers), 30_000, 100);
    writeFileSync(path.join(triggers, 'x.tmp'), JSON.stringify({ message: 'dropped in the shared dir' }));
    renameSync(path.join(triggers, 'x.tmp'), path.join(triggers, 'x.trigger'));
    await waitFor(
      'the trigger delivered',
      async () =>
        (JSON.parse((await p.ok(['queue', 'list', '--all', '--json'])).stdout) as { body: string; state: string }[]).some((m) => m.body === 'dropped in the shared dir' && m.state === 'confirmed'),
      60_000,
      250,
    );
    const beat = JSON.parse(readFileSync(path.join(shared, 'heartbeats', 'marie.json'), 'utf8')) as { status: string; agent: string };
    expect(beat).toMatchObject({ agent: 'marie', status: 'healthy' });
    // HEARTBEAT_INTERVAL=1 from .env reached the engine.
    expect((JSON.parse(readFileSync(path.join(shared, 'heartbeats', 'daemon.json'), 'utf8')) as { interval_ms: number }).interval_ms).toBe(1000);
    expect(existsSync(path.join(p.stateDir, 'heartbeats', 'marie.json'))).toBe(false);
  }, 120_000);
});
