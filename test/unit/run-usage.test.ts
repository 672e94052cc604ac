/** Tokens and cost of one-shot runs and their tasks (issue 17): the normalisers, the cost rule, the task totals. */
import { describe, expect, it } from 'vitest';
import { claudeRunTokens, codexRunTokens, geminiRunTokens, modelOfArgv, runUsageOf, taskUsageOf, type RunTokens, type RunUsage } from '../../src/domain/run-usage.js';
import { parseOneShotOutput, type OneShotOutputKind } from '../../src/domain/oneshot-output.js';
import { defaultPrices } from '../../src/domain/usage.js';

const tok = (input: number, output: number, cacheRead: number, cacheCreation: number) => ({ input, output, cacheRead, cacheCreation });

describe('claudeRunTokens (claude -p --output-format json)', () => {
  // As Claude Code 2.1.197 printed it against the stand-in API (test/e2e/claude-oneshot.test.ts).
  const real = {
    type: 'result',
    subtype: 'success',
    total_cost_usd: 0.0006875,
    usage: { input_tokens: 100, cache_creation_input_tokens: 2, cache_read_input_tokens: 0, output_tokens: 7, server_tool_use: { web_search_requests: 0 }, service_tier: 'standard' },
    modelUsage: { 'claude-opus-4-8[1m]': { inputTokens: 100, outputTokens: 7, cacheReadInputTokens: 0, cacheCreationInputTokens: 2, webSearchRequests: 0, costUSD: 0.0006875 } },
  };
  const table: { name: string; result: Record<string, unknown>; expected: RunTokens | null }[] = [
    { name: 'modelUsage of one model; the context-window mark is no part of the model name', result: real, expected: { tokens: tok(100, 7, 0, 2), model: 'claude-opus-4-8' } },
    {
      name: 'modelUsage of two models (a side call) summed; the model named is the one with the most tokens',
      result: {
        usage: { input_tokens: 1, output_tokens: 1 },
        modelUsage: {
          'claude-haiku-4-5': { inputTokens: 30, outputTokens: 5, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
          'claude-sonnet-4-5': { inputTokens: 200, outputTokens: 40, cacheReadInputTokens: 1000, cacheCreationInputTokens: 300 },
        },
      },
      expected: { tokens: tok(230, 45, 1000, 300), model: 'claude-sonnet-4-5' },
    },
    {
      name: 'no modelUsage: `usage` (an older CLI, or the demo)',
      result: { model: 'claude-sonnet-4-5', usage: { input_tokens: 10, output_tokens: 3, cache_read_input_tokens: 4, cache_creation_input_tokens: 5 } },
      expected: { tokens: tok(10, 3, 4, 5), model: 'claude-sonnet-4-5' },
    },
    { name: 'missing and bad figures count 0', result: { usage: { input_tokens: -4, output_tokens: 'x', cache_read_input_tokens: 2.7 } }, expected: { tokens: tok(0, 0, 2, 0), model: null } },
    { name: 'no usage at all', result: { result: 'x' }, expected: null },
  ];
  it.each(table)('$name', ({ result, expected }) => {
    expect(claudeRunTokens(result)).toEqual(expected);
  });
});

describe('codexRunTokens (codex exec --json, turn.completed usage)', () => {
  const table: { name: string; usage: Record<string, unknown>; expected: RunTokens }[] = [
    { name: 'no cache', usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 5 }, expected: { tokens: tok(10, 5, 0, 0), model: null } },
    {
      name: 'cached input is inside input_tokens: split out; reasoning is inside output_tokens',
      usage: { input_tokens: 1200, cached_input_tokens: 1000, output_tokens: 80, reasoning_output_tokens: 60 },
      expected: { tokens: tok(200, 80, 1000, 0), model: null },
    },
    { name: 'a cache larger than the input leaves no negative input', usage: { input_tokens: 3, cached_input_tokens: 9, output_tokens: 1 }, expected: { tokens: tok(0, 1, 9, 0), model: null } },
  ];
  it.each(table)('$name', ({ usage, expected }) => {
    expect(codexRunTokens(usage)).toEqual(expected);
  });
});

describe('geminiRunTokens (gemini --output-format json, stats.models)', () => {
  const table: { name: string; stats: unknown; expected: RunTokens | null }[] = [
    {
      name: 'one model: prompt includes the cached tokens, thoughts are output',
      stats: { models: { 'gemini-2.5-pro': { tokens: { prompt: 100, candidates: 20, cached: 30, thoughts: 7, tool: 0, total: 127 } } } },
      expected: { tokens: tok(70, 27, 30, 0), model: 'gemini-2.5-pro' },
    },
    {
      name: 'two models summed, the bigger named',
      stats: { models: { a: { tokens: { prompt: 10, candidates: 5, cached: 1, total: 15 } }, b: { tokens: { prompt: 2, candidates: 1, cached: 0, total: 3 } } } },
      expected: { tokens: tok(11, 6, 1, 0), model: 'a' },
    },
    { name: 'no models', stats: { models: {} }, expected: null },
    { name: 'no stats', stats: undefined, expected: null },
  ];
  it.each(table)('$name', ({ stats, expected }) => {
    expect(geminiRunTokens(stats)).toEqual(expected);
  });
});

describe('runUsageOf: the CLI stated cost when there is one, else priced from the model', () => {
  const table: { name: string; out: Parameters<typeof runUsageOf>[0]; expected: RunUsage | null }[] = [
    {
      name: "the CLI's own cost wins over the price table",
      out: { tokens: { tokens: tok(1_000_000, 0, 0, 0), model: 'claude-sonnet-4-5' }, costUsd: 0.5 },
      expected: { ...tok(1_000_000, 0, 0, 0), costUsd: 0.5, costSource: 'cli', model: 'claude-sonnet-4-5' },
    },
    {
      name: 'no stated cost: priced (sonnet 4: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million)',
      out: { tokens: { tokens: tok(1_000_000, 100_000, 2_000_000, 400_000), model: 'claude-sonnet-4-5' }, costUsd: null },
      expected: { ...tok(1_000_000, 100_000, 2_000_000, 400_000), costUsd: 3 + 1.5 + 0.6 + 1.5, costSource: 'priced', model: 'claude-sonnet-4-5' },
    },
    {
      name: 'a model the table does not know: tokens counted, cost 0',
      out: { tokens: { tokens: tok(10, 5, 0, 0), model: null }, costUsd: null },
      expected: { ...tok(10, 5, 0, 0), costUsd: 0, costSource: 'none', model: null },
    },
    { name: 'a cost and no tokens', out: { tokens: null, costUsd: 0.01 }, expected: { ...tok(0, 0, 0, 0), costUsd: 0.01, costSource: 'cli', model: null } },
    { name: 'nothing reported', out: { tokens: null, costUsd: null }, expected: null },
  ];
  it.each(table)('$name', ({ out, expected }) => {
    const u = runUsageOf(out, defaultPrices);
    if (expected === null) return expect(u).toBeNull();
    expect(u).toMatchObject({ ...expected, costUsd: expect.any(Number) });
    expect(u!.costUsd).toBeCloseTo(expected.costUsd, 12);
  });

  it('a price from the project table (hornets.json `pricing`) prices a model the built-in one lacks', () => {
    const u = runUsageOf(
      { tokens: { tokens: tok(2_000_000, 1_000_000, 0, 0), model: 'gpt-5-codex' }, costUsd: null },
      { ...defaultPrices, 'gpt-5': { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 } },
    );
    expect(u).toMatchObject({ costSource: 'priced', model: 'gpt-5-codex' });
    expect(u!.costUsd).toBeCloseTo(12.5, 12);
  });

  it('through parseOneShotOutput, per profile output kind', () => {
    const cases: [OneShotOutputKind, string, Partial<RunUsage> | null][] = [
      ['claude-json', JSON.stringify({ result: 'x', total_cost_usd: 0.02, usage: { input_tokens: 3, output_tokens: 4 } }), { input: 3, output: 4, costUsd: 0.02, costSource: 'cli' }],
      ['codex-jsonl', '{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":5}}', { input: 6, output: 5, cacheRead: 4, costSource: 'none' }],
      ['gemini-json', JSON.stringify({ response: 'x', stats: { models: { m: { tokens: { prompt: 8, candidates: 2, cached: 0 } } } } }), { input: 8, output: 2, model: 'm', costSource: 'none' }],
      ['text', 'hello', null],
      ['claude-json', 'not json', null],
    ];
    for (const [kind, stdout, expected] of cases) {
      const u = runUsageOf(parseOneShotOutput(kind, stdout), defaultPrices);
      if (expected === null) expect(u).toBeNull();
      else expect(u).toMatchObject(expected);
    }
  });
});

describe('modelOfArgv: the model a run asks for, when its output names none (Codex)', () => {
  it.each([
    { argv: ['codex', 'exec', '--json', '-m', 'gpt-5-codex', '-'], model: 'gpt-5-codex' },
    { argv: ['codex', 'exec', '--model', 'gpt-5.1', '-'], model: 'gpt-5.1' },
    { argv: ['gemini', '--model=gemini-2.5-pro'], model: 'gemini-2.5-pro' },
    { argv: ['claude', '-p', '--model', 'a', '--model', 'b'], model: 'b' },
    { argv: ['codex', 'exec', '-'], model: null },
    { argv: ['codex', 'exec', '-m'], model: null },
    { argv: ['codex', '--model='], model: null },
    { argv: ['tool', '--', '-m', 'x'], model: null },
  ])('$argv -> $model', ({ argv, model }) => {
    expect(modelOfArgv(argv)).toBe(model);
  });

  it('a Codex run with -m in its profile is priced by that model', () => {
    const out = parseOneShotOutput('codex-jsonl', '{"type":"turn.completed","usage":{"input_tokens":1000000,"cached_input_tokens":0,"output_tokens":100000}}');
    const u = runUsageOf(out, defaultPrices, modelOfArgv(['codex', 'exec', '--json', '-m', 'gpt-5-codex', '-']));
    expect(u).toMatchObject({ model: 'gpt-5-codex', costSource: 'priced' });
    expect(u!.costUsd).toBeCloseTo(1.25 + 1, 12);
  });
});

describe('taskUsageOf: every run of a task counted, each run id once', () => {
  const u = (input: number, costUsd: number): RunUsage => ({ ...tok(input, 1, 2, 3), costUsd, costSource: 'cli', model: null });
  const table: { name: string; history: { runId: string; usage?: RunUsage | null }[]; expected: { input: number; output: number; costUsd: number; runs: number } }[] = [
    { name: 'no runs', history: [], expected: { input: 0, output: 0, costUsd: 0, runs: 0 } },
    {
      name: 'a failed run and its retry both count',
      history: [
        { runId: 't.a1', usage: u(10, 0.25) },
        { runId: 't.a2', usage: u(20, 0.5) },
      ],
      expected: { input: 30, output: 2, costUsd: 0.75, runs: 2 },
    },
    {
      name: 'a run that reported nothing (lost, an old record) adds nothing',
      history: [{ runId: 't.a1' }, { runId: 't.a2', usage: null }, { runId: 't.a3', usage: u(5, 0.125) }],
      expected: { input: 5, output: 1, costUsd: 0.125, runs: 1 },
    },
    {
      name: 'the same run recorded twice counts once',
      history: [
        { runId: 't.a1', usage: u(10, 0.25) },
        { runId: 't.a1', usage: u(10, 0.25) },
      ],
      expected: { input: 10, output: 1, costUsd: 0.25, runs: 1 },
    },
  ];
  it.each(table)('$name', ({ history, expected }) => {
    expect(taskUsageOf(history)).toMatchObject(expected);
  });
});
