/**
 * A worker running the real Claude Code CLI in `-p` mode (the pinned devDependency) against the
 * local stand-in Messages API (scripts/fake-messages-api.ts): task file in, result file out with
 * the model's text and the usage Claude Code reports (issue 14), and a retried task's tokens and
 * cost summed over its runs (issue 17).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from '../../scripts/fake-messages-api.js';
import { loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { claudeBin, claudeRuns } from '../helpers/claude-e2e.js';
import { runHooksFor, workerMetricsSink } from '../../src/daemon/workers/wire.js';
import { createHornetsMetrics } from '../../src/daemon/metrics.js';
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

/** A HOME Claude Code starts in without asking, and the environment without the caller's Claude settings. */
function claudeHome(root: string): { home: string; leaks: Record<string, string> } {
  const home = join(root, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true, customApiKeyResponses: { approved: [API_KEY.slice(-20)], rejected: [] } }));
  const leaks = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => /^(ANTHROPIC_|CLAUDE)/.test(k))
      .map((k) => [k, '']),
  );
  return { home, leaks };
}

it.skipIf(!claudeRuns())(
  'claude -p as a worker: task file in, result file out with the model text',
  async () => {
    api = await startFakeApi(() => ({ text: 'The answer is 42.' }));
    dir = mkdtempSync(join(tmpdir(), 'hornets-claude-oneshot-'));
    const { home, leaks } = claudeHome(dir);
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

it.skipIf(!claudeRuns())(
  "a task that fails once and completes on its retry: its totals are the stand-in API's usage over both runs, each run counted once",
  async () => {
    // The first run's model asks for a tool, which --max-turns 1 does not allow: claude -p ends
    // with error_max_turns (exit 1), having used a response's tokens. The retry gets an answer.
    api = await startFakeApi((_req, i) => (i === 0 ? { toolUse: { name: 'Bash', input: { command: 'true' } } } : { text: 'Done on the second try.' }), {
      usage: (n) => ({ input: 100 + 10 * n, output: 7 + n, cacheRead: 300 * n, cacheCreation: 50 - 20 * n }),
    });
    dir = mkdtempSync(join(tmpdir(), 'hornets-claude-oneshot-'));
    const { home, leaks } = claudeHome(dir);
    const shipped = loadProfiles([builtinProfilesDir()]).get('claude-oneshot')!;
    const metrics = createHornetsMetrics();
    h = await startWorkerHarness({
      dir: join(dir, 'state'),
      socket,
      workers: [workerSettingsFixture('cl', { maxRetries: 1 })],
      metrics: workerMetricsSink(metrics),
      profile: {
        env: { ...leaks, HOME: home, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: API_KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
        oneShot: { ...shipped.oneShot!, command: [...shipped.oneShot!.command.map((w) => (w === 'claude' ? claudeBin : w)), '--max-turns', '1'] },
      },
    });
    dropTask(h.dirs.tasks, 'cl', { task_id: 'r1', description: 'Run true, then say done.', worker: 'cl' });
    const r = await waitFor('the result of the retried task', () => readResult(h!.dirs.results, 'cl', 'r1'), 150_000, 200);
    expect(r.status, JSON.stringify(r.attempts)).toBe('completed');
    expect(r.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(r.attempts[0]!.error).toMatch(/exit code 1|reported an error/);
    // Every response the stand-in sent, over both runs, is in the totals, once.
    expect(api.responses.length).toBeGreaterThanOrEqual(2);
    const sum = (k: 'input' | 'output' | 'cacheRead' | 'cacheCreation') => api!.responses.reduce((n, x) => n + x.usage[k], 0);
    expect(r.totals).toMatchObject({ input_tokens: sum('input'), output_tokens: sum('output'), cache_read_tokens: sum('cacheRead'), cache_creation_tokens: sum('cacheCreation'), runs: 2 });
    // Each run's cost is the one claude -p stated; the task's is both.
    const [a1, a2] = r.attempts.map((a) => a.usage!);
    expect(a1).toMatchObject({ cost_source: 'cli', cost_usd: expect.any(Number) });
    expect(a2).toMatchObject({ cost_source: 'cli', cost_usd: r.cost_usd });
    expect(a1!.cost_usd).toBeGreaterThan(0);
    expect(r.totals.cost_usd).toBeCloseTo(a1!.cost_usd + a2!.cost_usd, 12);
    // The store and the metrics say the same.
    const stored = (await h.store.workerTasks.getWorkerTask('r1'))!;
    expect(stored.usage).toMatchObject({ input: sum('input'), output: sum('output'), cacheRead: sum('cacheRead'), cacheCreation: sum('cacheCreation'), runs: 2 });
    expect(stored.usage.costUsd).toBeCloseTo(r.totals.cost_usd, 12);
    expect(metrics.workerTokens.get({ worker: 'cl', kind: 'input' })).toBe(sum('input'));
    expect(metrics.workerTokens.get({ worker: 'cl', kind: 'cache_read' })).toBe(sum('cacheRead'));
    expect(metrics.workerCost.get({ worker: 'cl' })).toBeCloseTo(r.totals.cost_usd, 12);
  },
  240_000,
);
