import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  budgetKey,
  budgetVerdict,
  costOf,
  defaultPrices,
  emptyUsage,
  mergeUsage,
  modelOfLine,
  priceFor,
  usageOfLine,
  type AgentUsage,
  type Budget,
  type ModelPrice,
  type UsageEntry,
} from '../../src/domain/usage.js';

const line = (id: string, usage: Record<string, number>, model = 'claude-sonnet-4-5-20250929') => JSON.stringify({ type: 'assistant', requestId: `req_${id}`, message: { id, model, usage } });

/** Counts lines as the usage tracker does: the model a line sets carries to the lines after it. */
function count(lines: string[], prices: Readonly<Record<string, ModelPrice>> = defaultPrices, session: string | null = null): AgentUsage {
  const seen = new Map<string, UsageEntry>();
  let totals = emptyUsage('a');
  let model: string | null = null;
  for (const l of lines) {
    model = modelOfLine(l) ?? model;
    const r = mergeUsage(totals, seen, usageOfLine(l, prices, session, model), 1);
    totals = r.totals;
    for (const u of r.upserts) seen.set(u.messageId, u);
  }
  return totals;
}

/** Lines the pinned CLIs wrote in the e2e tests against the stand-in APIs (test/e2e/codex-usage, gemini-usage). */
const fixture = (name: string) =>
  readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'usage', name), 'utf8')
    .split('\n')
    .filter(Boolean);
const codexLines = fixture('codex-0.171.0-rollout.jsonl');
const geminiLines = fixture('gemini-0.61.0-chat.jsonl');
const ofType = (lines: string[], pred: (v: Record<string, unknown>) => boolean) => lines.filter((l) => pred(JSON.parse(l) as Record<string, unknown>));
const payloadType = (v: Record<string, unknown>) => (v.payload as { type?: string } | undefined)?.type;

describe('usage counting', () => {
  it('reads a Claude Code assistant entry, and nothing from other lines', () => {
    const [e] = usageOfLine(line('msg_1', { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 }), defaultPrices);
    expect(e).toMatchObject({ messageId: 'msg_1', input: 10, output: 5, cacheRead: 100, cacheCreation: 20 });
    expect(e!.costUsd).toBeCloseTo((10 * 3 + 5 * 15 + 100 * 0.3 + 20 * 3.75) / 1e6, 12);
    expect(usageOfLine(JSON.stringify({ type: 'user', message: { role: 'user', content: 'usage' } }), defaultPrices)).toEqual([]);
    expect(usageOfLine('{"type":"assistant","message":{"usage"', defaultPrices)).toEqual([]);
    expect(usageOfLine(line('msg_x', { input_tokens: 0, output_tokens: 0 }, '<synthetic>'), defaultPrices)).toEqual([]);
  });

  it('counts streamed partials of one message once, with their largest figures', () => {
    const t = count([
      line('msg_1', { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 100 }),
      line('msg_1', { input_tokens: 10, output_tokens: 7, cache_read_input_tokens: 100 }),
      line('msg_2', { input_tokens: 3, output_tokens: 2 }),
    ]);
    expect(t).toMatchObject({ input: 13, output: 9, cacheRead: 100, cacheCreation: 0, messages: 2 });
  });

  it('a resumed transcript repeating earlier entries adds only its new messages', () => {
    const first = [line('msg_1', { input_tokens: 10, output_tokens: 5 }), line('msg_2', { input_tokens: 20, output_tokens: 6 })];
    const resumed = [...first, line('msg_3', { input_tokens: 30, output_tokens: 7 })];
    expect(count([...first, ...resumed])).toMatchObject({ input: 60, output: 18, messages: 3 });
  });

  it('a Codex that records only the running total (no last_token_usage) counts as one growing entry per session', () => {
    const tc = (input: number, cached: number, output: number) =>
      JSON.stringify({ type: 'event_msg', payload: { type: 'token_count', info: { total_token_usage: { input_tokens: input, cached_input_tokens: cached, output_tokens: output } } } });
    expect(count([tc(100, 40, 10), tc(100, 40, 10), tc(250, 90, 30)], defaultPrices, 's1')).toMatchObject({ input: 160, cacheRead: 90, output: 30, messages: 1 });
  });

  // Codex 0.171.0's rollout: per response a token_usage_record (not read: the same figures) and an
  // event_msg token_count with last_token_usage and the running total_token_usage; the model in each
  // turn's turn_context. The stand-in stated usage(n) = input 1201+17n (cached 300+11n), output
  // 41+3n for n = 0, 2, 3, 4, 5 (n = 1 was the title request, which Codex does not record).
  const codexFigures = { input: 6243 - 1654, cacheRead: 1654, output: 247, cacheCreation: 0, messages: 5 };
  const fakePrice = { 'fake-model': { input: 2, output: 7, cacheRead: 0.5, cacheWrite: 0 } };

  it.each([
    { what: 'token_count', pick: (v: Record<string, unknown>) => v.type === 'event_msg' && payloadType(v) === 'token_count', entries: 1 },
    { what: 'token_usage_record', pick: (v: Record<string, unknown>) => v.type === 'token_usage_record', entries: 0 },
    { what: 'turn_context', pick: (v: Record<string, unknown>) => v.type === 'turn_context', entries: 0 },
    { what: 'task_started / task_complete', pick: (v: Record<string, unknown>) => v.type === 'event_msg' && payloadType(v) !== 'token_count', entries: 0 },
    { what: 'response_item', pick: (v: Record<string, unknown>) => v.type === 'response_item', entries: 0 },
  ])('Codex 0.171.0 rollout line $what: $entries entries each', ({ pick, entries }) => {
    const lines = ofType(codexLines, pick);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(usageOfLine(l, defaultPrices, 's1', 'fake-model')).toHaveLength(entries);
  });

  it('Codex 0.171.0: the first token_count line is the response the stand-in stated, priced by the turn_context model', () => {
    const tc = ofType(codexLines, (v) => payloadType(v) === 'token_count')[0]!;
    const model = modelOfLine(ofType(codexLines, (v) => v.type === 'turn_context')[0]!);
    expect(model).toBe('fake-model');
    expect(usageOfLine(tc, fakePrice, 's1', model)).toEqual([
      {
        messageId: 'codex:s1:1201:300:41',
        model: 'fake-model',
        input: 901,
        output: 41,
        cacheRead: 300,
        cacheCreation: 0,
        costUsd: (901 * 2 + 41 * 7 + 300 * 0.5) / 1e6,
        at: Date.parse((JSON.parse(tc) as { timestamp: string }).timestamp),
      },
    ]);
  });

  it('Codex 0.171.0: a rollout counts each response once, read again (a resumed session, a re-read) or with its events repeated', () => {
    const t = count(codexLines, fakePrice, 's1');
    expect(t).toMatchObject(codexFigures);
    expect(t.costUsd).toBeCloseTo((codexFigures.input * 2 + codexFigures.output * 7 + codexFigures.cacheRead * 0.5) / 1e6, 12);
    expect(count([...codexLines, ...codexLines], fakePrice, 's1')).toMatchObject(codexFigures);
    expect(
      count(
        codexLines.flatMap((l) => [l, l]),
        fakePrice,
        's1',
      ),
    ).toMatchObject(codexFigures);
    // Without a turn_context before them the tokens still count, at no price.
    expect(
      count(
        ofType(codexLines, (v) => payloadType(v) === 'token_count'),
        fakePrice,
        's1',
      ),
    ).toMatchObject({ ...codexFigures, costUsd: 0 });
  });

  // Gemini CLI 0.61.0's chat recording: the stand-in stated usage(n) = prompt 1301+13n (cached
  // 200+7n), candidates 37+3n, thoughts 5+2n for n = 0..4. The message with the tool call is written
  // twice (again with its toolCalls); the resumed session's `$set` re-states the messages, without tokens.
  const geminiFigures = { input: 6635 - 1070, cacheRead: 1070, output: 215 + 45, cacheCreation: 0, messages: 5 };

  it.each([
    { what: 'gemini message', pick: (v: Record<string, unknown>) => v.type === 'gemini', entries: 1 },
    { what: 'user message', pick: (v: Record<string, unknown>) => v.type === 'user', entries: 0 },
    { what: '$set', pick: (v: Record<string, unknown>) => '$set' in v, entries: 0 },
    { what: 'session header', pick: (v: Record<string, unknown>) => 'sessionId' in v && !('$set' in v), entries: 0 },
  ])('Gemini CLI 0.61.0 chat line $what: $entries entries each', ({ pick, entries }) => {
    const lines = ofType(geminiLines, pick);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(usageOfLine(l, defaultPrices)).toHaveLength(entries);
  });

  it('Gemini CLI 0.61.0: a message is its tokens, cached split out and thoughts as output, at the built-in gemini-2.5-flash list price', () => {
    const [e] = usageOfLine(ofType(geminiLines, (v) => v.type === 'gemini')[0]!, defaultPrices);
    expect(e).toMatchObject({ messageId: 'gemini:80f1e884-95c8-4402-8981-8dd9e8a1cb00', model: 'gemini-2.5-flash', input: 1101, output: 42, cacheRead: 200, cacheCreation: 0 });
    expect(e!.costUsd).toBeCloseTo((1101 * 0.3 + 42 * 2.5 + 200 * 0.03) / 1e6, 15);
  });

  it('Gemini CLI 0.61.0: a chat recording counts each message once, rewritten, re-stated or read again', () => {
    expect(count(geminiLines)).toMatchObject(geminiFigures);
    expect(count([...geminiLines, ...geminiLines])).toMatchObject(geminiFigures);
    // A `$set` of the message list that carries tokens (a rewrite of the whole list) adds nothing already counted.
    const messages = ofType(geminiLines, (v) => v.type === 'gemini').map((l) => JSON.parse(l) as unknown);
    const rewrite = JSON.stringify({ $set: { messages } });
    expect(usageOfLine(rewrite, defaultPrices)).toHaveLength(messages.length);
    expect(count([...geminiLines, rewrite])).toMatchObject(geminiFigures);
    expect(count([rewrite])).toMatchObject(geminiFigures);
  });

  it.each([
    { line: codexLines.find((l) => l.includes('"turn_context"'))!, model: 'fake-model' },
    { line: JSON.stringify({ type: 'turn_context', payload: { model: '' } }), model: null },
    { line: JSON.stringify({ type: 'event_msg', payload: { type: 'turn_context', model: 'x' } }), model: null },
    { line: '{"type":"turn_context","payload":{"model":"gpt-5"', model: null },
    { line: geminiLines[0]!, model: null },
  ])('modelOfLine: $model', ({ line: l, model }) => {
    expect(modelOfLine(l)).toBe(model);
  });

  it.each([
    ['claude-opus-4-5-20251101', 5],
    ['claude-opus-4-8', 5],
    ['claude-opus-4-6-20260101', 5],
    ['claude-opus-4-1-20250805', 15],
    ['claude-opus-4-1', 15],
    ['claude-opus-4-20250514', 15],
    ['claude-opus-4-0', 15],
    ['gpt-5', 1.25],
    ['gpt-5-codex', 1.25],
    ['gpt-5-2025-08-07', 1.25],
    ['gpt-5-mini', 0.25],
    ['gpt-5-codex-mini', 0.25],
    ['gpt-5.1-codex-max', 1.25],
    ['gpt-5.1-codex-mini', 0.25],
    ['gpt-5.2-codex', 1.75],
    ['gpt-5.4', null],
    ['gpt-50', null],
    ['gemini-2.5-pro', 1.25],
    ['gemini-2.5-flash', 0.3],
    ['gemini-2.5-flash-preview-09-2025', 0.3],
    ['gemini-2.5-flash-lite', 0.1],
    ['gemini-3-pro-preview', null],
    ['fake-model', null],
  ])('the list price of %s: input %s', (model, input) => {
    expect(priceFor(model, defaultPrices)?.input ?? null).toBe(input);
  });

  it('prices by the longest prefix that names the model; a prefix ending in a separator names any model it starts; unknown models cost nothing', () => {
    const prices = { ...defaultPrices, 'gpt-': { input: 9, output: 9, cacheRead: 9, cacheWrite: 9 }, 'gpt-5': { input: 8, output: 8, cacheRead: 8, cacheWrite: 8 } };
    expect(priceFor('gpt-6.1-sol', prices)?.input).toBe(9);
    expect(priceFor('gpt-5-codex', prices)?.input).toBe(8);
    expect(priceFor('gpt-5-mini', prices)?.input).toBe(0.25);
    expect(costOf({ input: 1e6, output: 0, cacheRead: 0, cacheCreation: 0 }, 'gpt-x', defaultPrices)).toBe(0);
  });
});

describe('budgetVerdict', () => {
  const u = (costUsd: number, tokens: number, overBudget = false, waivedBudget: string | null = null) => ({
    costUsd,
    input: tokens,
    output: 0,
    cacheRead: 0,
    cacheCreation: 0,
    overBudget,
    waivedBudget,
  });
  const b: Budget = { usd: 1, tokens: 1000 };
  const rows: [string, ReturnType<typeof u>, Budget | undefined, 'none' | 'pause' | 'lift', boolean][] = [
    ['no budget', u(50, 1e9), undefined, 'none', false],
    ['under both limits', u(0.5, 900), b, 'none', false],
    ['at the limit is not over it', u(1, 1000), b, 'none', false],
    ['cost over: pause', u(1.01, 10), b, 'pause', true],
    ['tokens over: pause', u(0.01, 1001), b, 'pause', true],
    ['already paused and still over: nothing', u(2, 10, true), b, 'none', true],
    ['resumed over this budget: not enforced', u(2, 10, false, budgetKey(b)), b, 'none', true],
    ['resumed over an older budget: enforced again', u(2, 10, false, budgetKey({ usd: 1.5 })), b, 'pause', true],
    ['budget raised above usage: lift', u(2, 10, true), { usd: 5 }, 'lift', false],
    ['budget removed: lift', u(2, 10, true), undefined, 'lift', false],
  ];
  it.each(rows)('%s', (_name, usage, budget, action, exceeded) => {
    const v = budgetVerdict(usage, budget);
    expect(v.action).toBe(action);
    expect(v.exceeded).toBe(exceeded);
    expect(v.reason !== null).toBe(exceeded);
  });
});
