/**
 * A worker running the real Claude Code CLI in `-p` mode (the pinned devDependency) against the
 * local stand-in Messages API (scripts/fake-messages-api.ts): task file in, result file out with
 * the model's text and the usage Claude Code reports (issue 14).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from '../../scripts/fake-messages-api.js';
import { loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { claudeBin, claudeRuns } from '../helpers/claude-e2e.js';
import { runHooksFor } from '../../src/daemon/workers/wire.js';
import { killServer, randomSocket, waitFor } from '../helpers/tmux.js';
import { dropTask, readResult, startWorkerHarness, workerSettingsFixture, type WorkerHarness } from '../helpers/workers/harness.js';

const API_KEY = `sk-ant-api03-hornets-e2e-${'x'.repeat(40)}-0123456789abcdefghij`;
let api: FakeApi | null = null;
let h: WorkerHarness | null = null;
let dir = '';
const socket = randomSocket();

afterEach(async () => {
  await h?.stop();
  await killServer(socket);
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it.skipIf(!claudeRuns())(
  'claude -p as a worker: task file in, result file out with the model text',
  async () => {
    api = await startFakeApi(() => ({ text: 'The answer is 42.' }));
    dir = mkdtempSync(join(tmpdir(), 'hornets-claude-oneshot-'));
    const home = join(dir, 'home');
    mkdirSync(home);
    writeFileSync(join(home, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true, customApiKeyResponses: { approved: [API_KEY.slice(-20)], rejected: [] } }));
    const leaks = Object.fromEntries(
      Object.keys(process.env)
        .filter((k) => /^(ANTHROPIC_|CLAUDE)/.test(k))
        .map((k) => [k, '']),
    );
    const shipped = loadProfiles([builtinProfilesDir()]).get('claude-oneshot')!;
    h = await startWorkerHarness({
      dir: join(dir, 'state'),
      socket,
      workers: [workerSettingsFixture('cl', { maxConcurrent: 2 })],
      profile: {
        env: { ...leaks, HOME: home, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: API_KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
        // The shipped profile's arguments, with the pinned binary for `claude`.
        oneShot: { ...shipped.oneShot!, command: shipped.oneShot!.command.map((w) => (w === 'claude' ? claudeBin : w)) },
      },
      // The shipped profile's hooks, installed as the engine does (the worker's profile is named demo-oneshot here).
      runHooks: runHooksFor(dir, () => new Map([['demo-oneshot', shipped]])),
    });
    // The shipped profile hands the prompt over on standard input: no process shows it in `ps`.
    expect(shipped.oneShot!.prompt).toBe('stdin');
    dropTask(h.dirs.tasks, 'cl', { task_id: 'q1', description: 'What is six times seven?', worker: 'cl' });
    const r = await waitFor('the result of claude -p', () => readResult(h!.dirs.results, 'cl', 'q1'), 120_000, 200);
    expect(r).toMatchObject({ status: 'completed', exit_code: 0, result: 'The answer is 42.' });
    expect(r.usage).toMatchObject({ output_tokens: expect.any(Number) });
    expect(api.requests.some((q) => q.text.includes('What is six times seven?'))).toBe(true);
    expect(r.attempts).toHaveLength(1);
    // Claude Code ran the hooks installed in the run's scratch directory, and their calls reached
    // the engine (the run's hooks.jsonl, counted in the result); the scratch directory's hooks went.
    expect(r.hooks.events).toMatchObject({ SessionStart: 1, UserPromptSubmit: 1, Stop: 1 });
    expect(existsSync(join(h.dirs.runs, 'cl', 'q1', '1', 'work', '.claude', 'settings.local.json'))).toBe(false);
  },
  180_000,
);
