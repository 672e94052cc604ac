/**
 * Task workers running the real Codex and Gemini CLIs once per task (the shipped `codex-oneshot`
 * and `gemini-oneshot` profiles, with the pinned binaries) against the local stand-in APIs: task
 * file in, the prompt on the run's standard input, result file out with the model's text and the
 * token usage the CLI reports (issue 14).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';
import { startFakeResponsesApi } from '../helpers/fake-responses-api.js';
import { startFakeGeminiApi } from '../helpers/fake-gemini-api.js';
import { codexConfigToml, codexKeyEnv, geminiApiEnv, geminiUserSettings } from '../helpers/agent-cli-setup.js';
import { killServer, randomSocket, waitFor } from '../helpers/tmux.js';
import { dropTask, readResult, startWorkerHarness, workerSettingsFixture, type WorkerHarness } from '../helpers/workers/harness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function shipped(name: string, binary: string) {
  const p = loadProfiles([builtinProfilesDir()]).get(name)!;
  return { ...p.oneShot!, command: p.oneShot!.command.map((w, i) => (i === 0 ? binary : w)) };
}

async function harness(env: Record<string, string>, oneShot: ReturnType<typeof shipped>, dir: string): Promise<WorkerHarness> {
  const socket = randomSocket();
  const h = await startWorkerHarness({ dir: join(dir, 'state'), socket, workers: [workerSettingsFixture('w', { maxConcurrent: 2 })], profile: { env, oneShot } });
  cleanups.push(async () => {
    await h.stop();
    await killServer(socket);
  });
  return h;
}

describe.skipIf(skipAgentCliSuite('codex'))('codex exec as a worker', () => {
  it('task file in, result file out with the final agent message and the usage', async () => {
    const codex = requireAgentCli('codex');
    const api = await startFakeResponsesApi((req) => ({ text: req.text.includes('What is six times seven?') ? 'The answer is 42.' : 'ok' }));
    const dir = mkdtempSync(join(tmpdir(), 'hornets-codex-oneshot-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => api.close());
    const home = join(dir, 'codex-home');
    mkdirSync(home);
    writeFileSync(join(home, 'config.toml'), codexConfigToml({ apiUrl: api.url }));
    const h = await harness({ CODEX_HOME: home, ...codexKeyEnv(), HOME: dir }, shipped('codex-oneshot', codex), dir);
    dropTask(h.dirs.tasks, 'w', { task_id: 'q1', description: 'What is six times seven?' });
    const r = await waitFor('the result of codex exec', () => readResult(h.dirs.results, 'w', 'q1'), 120_000, 200);
    expect(r).toMatchObject({ status: 'completed', exit_code: 0, result: 'The answer is 42.' });
    expect(r.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    expect(api.requests.some((q) => q.text.includes('What is six times seven?'))).toBe(true);
    // turn.completed's usage, normalised: cached input split out of input_tokens. Codex states no
    // cost, and the built-in price table knows no OpenAI model: cost 0, tokens counted.
    const u = r.usage as { input_tokens: number; cached_input_tokens: number; output_tokens: number };
    expect(r.totals).toEqual({
      input_tokens: u.input_tokens - u.cached_input_tokens,
      output_tokens: u.output_tokens,
      cache_read_tokens: u.cached_input_tokens,
      cache_creation_tokens: 0,
      cost_usd: 0,
      runs: 1,
    });
    expect(r.totals.output_tokens).toBeGreaterThan(0);
  }, 180_000);
});

describe.skipIf(skipAgentCliSuite('gemini'))('gemini as a worker', () => {
  it('task file in, result file out with the response and the usage', async () => {
    const gemini = requireAgentCli('gemini');
    const api = await startFakeGeminiApi((req) => ({ text: JSON.stringify(req.body).includes('What is six times seven?') ? 'The answer is 42.' : 'ok' }));
    const dir = mkdtempSync(join(tmpdir(), 'hornets-gemini-oneshot-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => api.close());
    mkdirSync(join(dir, '.gemini'));
    mkdirSync(join(dir, 'tmp'));
    writeFileSync(join(dir, '.gemini', 'settings.json'), geminiUserSettings());
    const h = await harness({ HOME: dir, GEMINI_CLI_HOME: dir, TMPDIR: join(dir, 'tmp'), ...geminiApiEnv(api.url) }, shipped('gemini-oneshot', gemini), dir);
    dropTask(h.dirs.tasks, 'w', { task_id: 'q1', description: 'What is six times seven?' });
    const r = await waitFor('the result of gemini', () => readResult(h.dirs.results, 'w', 'q1'), 120_000, 200);
    expect(r).toMatchObject({ status: 'completed', exit_code: 0, result: 'The answer is 42.' });
    expect(r.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    // stats.models' tokens, normalised: the cached part of the prompt split out.
    const u = r.usage as { input_tokens: number; output_tokens: number; cached_tokens: number };
    expect(r.totals).toMatchObject({ input_tokens: u.input_tokens - u.cached_tokens, cache_read_tokens: u.cached_tokens, cache_creation_tokens: 0, runs: 1 });
    expect(r.totals.output_tokens).toBeGreaterThanOrEqual(u.output_tokens);
    expect(r.totals.input_tokens + r.totals.output_tokens).toBeGreaterThan(0);
  }, 180_000);
});
