/**
 * Issue 17, tokens and cost, on the real Codex CLI (pinned 0.171.0) against the scripted local
 * Responses API, which states distinct usage in every response.completed event. Codex records each
 * response's usage in its rollout file (`$CODEX_HOME/sessions/…/rollout-*.jsonl`, event_msg
 * token_count: `last_token_usage` and the session's running `total_token_usage`; its hooks give that
 * file as transcript_path); the engine reads it as the hooks fire. The totals `status --json` and
 * /metrics show must equal the sums of what the API stated for the agent's turns — over a tool
 * turn, an engine restart and a resumed session (`codex resume`, which appends to the same rollout
 * file) — and the side request Codex makes for the thread's title, which it does not record, must
 * not be in them. Needs `npm run build` and tmux.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';
import { AGENT, CodexE2E, hasToolOutput, newText } from '../helpers/codex-e2e.js';
import type { ResponsesUsage, SentResponse } from '../helpers/fake-responses-api.js';
import { metricsOf, tokens, totalsReach, type Tokens } from '../helpers/usage-e2e.js';
import { waitFor } from '../helpers/tmux.js';

let env: CodexE2E | null = null;

afterEach(async (ctx) => {
  if (env && ctx.task.result?.state === 'fail') console.error(env.diagnostics());
  await env?.cleanup();
  env = null;
});

/** Distinct figures per response, every field in use: a response counted twice or missed shows. */
const usage = (n: number): ResponsesUsage => ({ input: 1201 + 17 * n, cached: 300 + 11 * n, output: 41 + 3 * n, reasoning: 9 + n });

/** The model the e2e config.toml asks for, priced by the test's hornets.json. */
const PRICE = { input: 2, output: 7, cacheRead: 0.5, cacheWrite: 0 };

/** What Codex's figures mean in hornets' kinds: cached input is part of input_tokens, reasoning part of output_tokens. */
function sums(responses: readonly SentResponse[]): Tokens {
  let input = 0;
  let cacheRead = 0;
  let output = 0;
  for (const r of responses) {
    input += r.usage.input - r.usage.cached;
    cacheRead += r.usage.cached;
    output += r.usage.output;
  }
  return tokens({ input, output, cacheRead, cacheCreation: 0 });
}

const costOf = (t: Tokens) => (t.input * PRICE.input + t.output * PRICE.output + t.cacheRead * PRICE.cacheRead) / 1e6;

function rolloutFiles(e: CodexE2E): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(path.join(d, f.name));
      else if (f.name.startsWith('rollout-')) out.push(path.join(d, f.name));
    }
  };
  walk(path.join(e.codexHome, 'sessions'));
  return out;
}

describe.skipIf(skipAgentCliSuite('codex'))('real Codex CLI: tokens and cost (issue 17)', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('codex');
  });

  it('token totals equal the sums of the usage the API stated, over a tool turn, an engine restart and a resumed session', async () => {
    const e = (env = await CodexE2E.create(
      (req) => {
        if (hasToolOutput(req)) return { text: 'tool finished' };
        if (newText(req).includes('please run the tool')) return { exec: { cmd: 'echo hornets-usage' } };
        return { text: 'ok' };
      },
      { usage, hornets: { pricing: { 'fake-model': PRICE } } },
    ));
    const main = () => e.api.responses.filter((r) => r.main);
    const turn = async (text: string) => {
      const mark = e.hookLog().length;
      await e.prompt(text);
      await e.waitForHook('Stop', 'idle', { after: mark, timeoutMs: 60_000 });
    };
    const check = async () => {
      const expected = sums(main());
      const s = await totalsReach(e.cli, AGENT, expected);
      expect(s.costUsd).toBeCloseTo(costOf(expected), 9);
      const m = await metricsOf(e.cli, AGENT);
      expect(m.tokens).toEqual({ input: expected.input, output: expected.output, cacheRead: expected.cacheRead, cacheCreation: 0 });
      expect(m.costUsd).toBeCloseTo(costOf(expected), 9);
    };

    await e.cli.ok(['daemon', 'start']);
    await e.up();
    await turn('please run the tool');
    await turn('a second turn');
    // The tool turn is two responses; the title request is a side response Codex does not count.
    expect(main().length).toBe(3);
    expect(e.api.responses.some((r) => !r.main)).toBe(true);
    expect(new Set(e.mainRequests().map((r) => r.body.model))).toEqual(new Set(['fake-model']));
    await check();

    // An engine restart: the new engine goes on from the stored offset.
    await e.cli.ok(['daemon', 'stop']);
    await e.cli.ok(['daemon', 'start']);
    await turn('a turn after the engine restart');
    expect(main().length).toBe(4);
    await check();

    // A restart of the agent resumes its session (`codex resume <id>`), which appends to the same rollout file.
    const files = rolloutFiles(e);
    expect(files).toHaveLength(1);
    await e.cli.ok(['restart', AGENT]);
    await waitFor('the pane restarted with resume', () => (/ resume [0-9a-f-]{36}/.test(e.paneCommand()) ? true : null), 20_000, 100);
    await e.waitForPrompt(60_000);
    await turn('a turn after the resume');
    expect(main().length).toBe(5);
    expect(rolloutFiles(e)).toEqual(files);
    await check();
  }, 240_000);
});
