/**
 * Issue 17, tokens and cost, on the real Claude Code CLI (the pinned devDependency) against the
 * scripted local Messages API, which states non-trivial usage per response (input and cache figures
 * in message_start, the final output count in message_delta, as the API streams them). The engine
 * reads Claude Code's transcript as hooks name it; the totals `status --json` shows must equal the
 * sums of what the API stated for the conversation's responses — across tool turns (several
 * transcript lines per message) and across a resumed session (`--resume`, the profile's restart). Needs `npm run build` and tmux; set
 * HORNETS_SKIP_CLAUDE_E2E=1 where the Claude Code binary cannot run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SentResponse, UsageFigures } from '../../scripts/fake-messages-api.js';
import { assertBuilt } from '../helpers/cli.js';
import { AGENT, ClaudeE2E, claudeRuns, hasToolResult, newText } from '../helpers/claude-e2e.js';
import { waitFor } from '../helpers/tmux.js';

let env: ClaudeE2E | null = null;
let cleanupDaemon: ClaudeE2E | null = null;

afterEach(async (ctx) => {
  if (env && ctx.task.result?.state === 'fail') console.error(env.diagnostics());
  // The engine writes into the project: stopped before the directories go.
  if (env && ctx.task.result?.state === 'fail')
    console.error(
      readFileSync(env.logFile, 'utf8')
        .split('\n')
        .filter((l) => /transcript|usage/.test(l))
        .join('\n'),
    );
  if (cleanupDaemon) await cleanupDaemon.cli.run(['daemon', 'stop']);
  cleanupDaemon = null;
  await env?.cleanup();
  env = null;
});

/** The model Claude Code asks for, priced by the test's hornets.json (`pricing`). */
const MODEL_PREFIX = 'claude-opus-4';
const PRICE = { input: 2, output: 7, cacheRead: 0.5, cacheWrite: 3 };
const costOf = (t: { input: number; output: number; cacheRead: number; cacheCreation: number }) =>
  (t.input * PRICE.input + t.output * PRICE.output + t.cacheRead * PRICE.cacheRead + t.cacheCreation * PRICE.cacheWrite) / 1e6;

interface StatusUsage {
  name: string;
  state: string;
  label: string;
  needsYou: boolean;
  overBudget: boolean;
  tokens: { input: number; output: number; cacheRead: number; cacheCreation: number; total: number };
  costUsd: number;
  budget: { usd: number | null; tokens: number | null } | null;
}

async function agentStatus(e: ClaudeE2E): Promise<StatusUsage> {
  const list = JSON.parse((await e.run(['status', '--json'])).stdout) as StatusUsage[];
  return list.find((a) => a.name === AGENT)!;
}

/** Distinct figures per response, with every field in use: a count taken twice or missed shows. */
const usage = (n: number): UsageFigures => ({ input: 101 + n, output: 37 + 3 * n, cacheRead: 2003 + 11 * n, cacheCreation: 307 + 5 * n });

function sums(responses: readonly SentResponse[]): StatusUsage['tokens'] {
  const t = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0, total: 0 };
  for (const r of responses) {
    t.input += r.usage.input;
    t.output += r.usage.output;
    t.cacheRead += r.usage.cacheRead;
    t.cacheCreation += r.usage.cacheCreation;
  }
  t.total = t.input + t.output + t.cacheRead + t.cacheCreation;
  return t;
}

/** The message ids of the transcript's assistant lines (Claude Code's project dir under the test HOME). */
function transcriptIds(e: ClaudeE2E): Map<string, string[]> {
  const projects = path.join(e.home, '.claude', 'projects');
  const out = new Map<string, string[]>();
  for (const dir of readdirSync(projects)) {
    for (const f of readdirSync(path.join(projects, dir)).filter((x) => x.endsWith('.jsonl'))) {
      const ids = readFileSync(path.join(projects, dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type?: string; message?: { id?: string } })
        .filter((l) => l.type === 'assistant' && l.message?.id)
        .map((l) => l.message!.id!);
      out.set(f, ids);
    }
  }
  return out;
}

async function totalsReach(e: ClaudeE2E, expected: StatusUsage['tokens']): Promise<StatusUsage> {
  return waitFor(
    `status --json to show ${JSON.stringify(expected)}`,
    async () => {
      const s = await agentStatus(e);
      return JSON.stringify(s.tokens) === JSON.stringify(expected) ? s : null;
    },
    30_000,
    250,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify((await agentStatus(e)).tokens)}`);
  });
}

describe.skipIf(process.env.HORNETS_SKIP_CLAUDE_E2E === '1')('real Claude Code: tokens and cost (issue 17)', () => {
  beforeAll(() => {
    assertBuilt();
    if (!claudeRuns()) throw new Error('node_modules/.bin/claude does not run: `npm ci` installs the pinned @anthropic-ai/claude-code (or set HORNETS_SKIP_CLAUDE_E2E=1)');
  });

  it('token totals equal the sums of the usage the API stated, over tool turns and a resumed session', async () => {
    const e = (env = await ClaudeE2E.create(
      (req) => {
        if (hasToolResult(req)) return { text: 'tool finished' };
        if (newText(req).includes('please run the tool')) return { toolUse: { name: 'Bash', input: { command: 'echo hornets-usage', description: 'echo' } }, text: 'running it' };
        return { text: 'ok' };
      },
      {
        usage,
        committedSettings: { permissions: { allow: ['Bash(echo:*)'] } },
        config: { pricing: { [MODEL_PREFIX]: PRICE } },
      },
    ));
    await e.cli.ok(['daemon', 'start']);
    cleanupDaemon = e;
    await e.up();
    await e.prompt('please run the tool');
    const stopsSeen = (n: number) => waitFor(`${n} Stop hooks`, () => e.hookLog().filter((l) => l.event === 'Stop').length >= n, 60_000, 100);
    await stopsSeen(1);
    await e.prompt('a second turn');
    await stopsSeen(2);
    const stops = 2;

    // Only the conversation's responses are in the transcript (side requests are Claude Code's own).
    const main = () => e.api.responses.filter((r) => r.main);
    expect(main().length).toBeGreaterThanOrEqual(3);
    const first = await totalsReach(e, sums(main()));
    expect(first.costUsd).toBeCloseTo(costOf(sums(main())), 9);
    expect(new Set(e.mainRequests().map((r) => String(r.body.model).startsWith(MODEL_PREFIX)))).toEqual(new Set([true]));
    const before = transcriptIds(e);

    // Restart: the profile resumes the session (`--resume <id>`); one more turn in it.
    await e.cli.ok(['restart', AGENT]);
    await e.waitForPrompt(60_000);
    await e.prompt('a turn after the resume');
    await stopsSeen(stops + 1);
    const last = main().at(-1)!.id;
    const after = await waitFor(
      'the last response in a transcript',
      () => {
        const ids = transcriptIds(e);
        return [...ids.values()].some((list) => list.includes(last)) ? ids : null;
      },
      10_000,
      100,
    );
    // Claude Code 2.1.197 continues a resumed session in its transcript: the earlier responses are
    // read once, the new one is added (a fork's copy into a new transcript: test/integration/usage-tracker.test.ts).
    expect([...after.keys()]).toEqual([...before.keys()]);
    const total = await totalsReach(e, sums(main()));
    expect(total.costUsd).toBeCloseTo(costOf(sums(main())), 9);
  }, 240_000);

  it('over its token budget the agent is paused and marked, a message waits, and `resume` lets it go on', async () => {
    const e = (env = await ClaudeE2E.create(() => ({ text: 'ok' }), { usage, agent: { budget: { tokens: 1000 } } }));
    await e.cli.ok(['daemon', 'start']);
    cleanupDaemon = e;
    await e.up();
    await e.prompt('spend some tokens');
    const over = await waitFor(
      'cc over budget',
      async () => {
        const s = await agentStatus(e);
        return s.overBudget ? s : null;
      },
      30_000,
      250,
    );
    expect(over.tokens.total).toBeGreaterThan(1000);
    expect(over.budget).toEqual({ usd: null, tokens: 1000 });
    expect(over.label).toContain('over budget');
    expect(over.needsYou).toBe(true);
    const id = await e.send('wait for the budget');
    await new Promise((r) => setTimeout(r, 3000));
    expect((await e.queue()).find((m) => m.id === id)?.state).toBe('queued');
    expect(e.mainRequests().some((r) => newText(r).includes('wait for the budget'))).toBe(false);

    await e.cli.ok(['resume', AGENT]);
    await waitFor('the waiting message at the model', () => e.mainRequests().some((r) => newText(r).includes('wait for the budget')), 60_000, 200);
    const after = await agentStatus(e);
    expect(after.overBudget).toBe(false);
  }, 240_000);
});
