/**
 * Issue 17, tokens and cost, on the real Gemini CLI (pinned 0.61.0) against the scripted local
 * Gemini API, which states distinct usageMetadata (prompt with cached part, candidates, thoughts)
 * in every response. Gemini CLI records each model message with its `tokens` and `model` in its
 * chat recording (`…/.gemini/tmp/<project>/chats/session-*.jsonl`: JSON lines appended, a resumed
 * session appending to the same file and re-stating its message list in a `$set` line); its hooks
 * give that file as transcript_path, and the engine reads it as they fire. The totals `status
 * --json` and /metrics show must equal the sums of what the API stated for the agent's turns — over
 * a tool turn, an engine restart and a resumed session (`gemini --resume <id>`). Needs `npm run
 * build` and tmux.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';
import { AGENT, GeminiE2E, hasToolOutput, newText } from '../helpers/gemini-e2e.js';
import type { GeminiSentResponse, GeminiUsage } from '../helpers/fake-gemini-api.js';
import { metricsOf, tokens, totalsReach, type Tokens } from '../helpers/usage-e2e.js';
import { waitFor } from '../helpers/tmux.js';
import { usageOfLine } from '../../src/domain/usage.js';

let env: GeminiE2E | null = null;

afterEach(async (ctx) => {
  if (env && ctx.task.result?.state === 'fail') console.error(env.diagnostics());
  await env?.cleanup();
  env = null;
});

/** Distinct figures per response, every field in use: a response counted twice or missed shows. */
const usage = (n: number): GeminiUsage => ({ prompt: 1301 + 13 * n, cached: 200 + 7 * n, candidates: 37 + 3 * n, thoughts: 5 + 2 * n });

/** The model the e2e settings.json asks for; hornets.json `pricing` replaces its built-in list price. */
const MODEL = 'gemini-2.5-flash';
const PRICE = { input: 3, output: 11, cacheRead: 0.7, cacheWrite: 0 };

/** Gemini's figures in hornets' kinds: the cached part of the prompt is cache read, thoughts are output. */
function sums(responses: readonly GeminiSentResponse[]): Tokens {
  let input = 0;
  let cacheRead = 0;
  let output = 0;
  for (const r of responses) {
    input += r.usage.prompt - r.usage.cached;
    cacheRead += r.usage.cached;
    output += r.usage.candidates + r.usage.thoughts;
  }
  return tokens({ input, output, cacheRead, cacheCreation: 0 });
}

const costOf = (t: Tokens) => (t.input * PRICE.input + t.output * PRICE.output + t.cacheRead * PRICE.cacheRead) / 1e6;

function chatFiles(e: GeminiE2E): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(path.join(d, f.name));
      else if (path.basename(d) === 'chats') out.push(path.join(d, f.name));
    }
  };
  walk(path.join(e.geminiHome, '.gemini', 'tmp'));
  return out;
}

describe.skipIf(skipAgentCliSuite('gemini'))('real Gemini CLI: tokens and cost (issue 17)', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('gemini');
  });

  it('token totals equal the sums of the usage the API stated, over a tool turn, an engine restart and a resumed session', async () => {
    const e = (env = await GeminiE2E.create(
      (req) => {
        if (hasToolOutput(req)) return { text: 'tool finished' };
        if (newText(req).includes('please run the tool')) return { shell: 'echo hornets-usage' };
        return { text: 'ok' };
      },
      { usage, hornets: { pricing: { [MODEL]: PRICE } } },
    ));
    const main = () => e.api.responses.filter((r) => r.main);
    const turn = async (text: string) => {
      const mark = e.hookLog().length;
      await e.prompt(text);
      await e.waitForHook('AfterAgent', 'idle', { after: mark, timeoutMs: 60_000 });
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
    // The tool turn is two responses.
    expect(main().length).toBe(3);
    expect(new Set(e.mainRequests().map((r) => r.path))).toEqual(new Set([`/v1beta/models/${MODEL}:streamGenerateContent`]));
    await check();

    // An engine restart: the new engine goes on from the stored offset.
    await e.cli.ok(['daemon', 'stop']);
    await e.cli.ok(['daemon', 'start']);
    await turn('a turn after the engine restart');
    expect(main().length).toBe(4);
    await check();

    // A restart of the agent resumes its session, which appends to the same chat file and
    // re-states the earlier messages there. Gemini CLI 0.61.0 first starts a chat of its own, which
    // the resume then replaces (ChatRecordingService.initialize without, then with, the resumed
    // session): when the minute has changed since the session began, that first chat leaves a file
    // of its own, `session-<this minute>-<same id>.jsonl`, with its metadata and no tokens.
    const files = chatFiles(e);
    expect(files).toHaveLength(1);
    // Into the next minute, so that the resume meets that case every run (it came up in CI).
    const minute = /^session-(\d{4}-\d\d-\d\dT\d\d-\d\d)-/.exec(path.basename(files[0]!))?.[1];
    expect(minute).toBeDefined();
    await waitFor('the next minute', () => (new Date().toISOString().slice(0, 16).replace(/:/g, '-') !== minute ? true : null), 65_000, 200);
    const { sessionId } = await e.agentRecord();
    await e.cli.ok(['restart', AGENT]);
    await waitFor('the pane restarted with resume', () => (e.paneCommand().includes(`--resume ${sessionId!}`) ? true : null), 20_000, 100);
    await e.waitForPrompt(60_000);
    await turn('a turn after the resume');
    expect(main().length).toBe(5);
    const after = chatFiles(e);
    expect(after).toEqual(expect.arrayContaining(files));
    for (const extra of after.filter((f) => !files.includes(f))) {
      expect(path.basename(extra)).toMatch(new RegExp(`^session-.*-${sessionId!.slice(0, 8)}\\.jsonl$`));
      expect(
        readFileSync(extra, 'utf8')
          .split('\n')
          .flatMap((line) => usageOfLine(line, {})),
      ).toEqual([]);
    }
    await check();
  }, 240_000);
});
