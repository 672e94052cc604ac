import { describe, expect, it } from 'vitest';
import { budgetKey, budgetVerdict, costOf, defaultPrices, emptyUsage, mergeUsage, priceFor, usageOfLine, type AgentUsage, type Budget, type UsageEntry } from '../../src/domain/usage.js';

const line = (id: string, usage: Record<string, number>, model = 'claude-sonnet-4-5-20250929') => JSON.stringify({ type: 'assistant', requestId: `req_${id}`, message: { id, model, usage } });

function count(lines: string[]): AgentUsage {
  const seen = new Map<string, UsageEntry>();
  let totals = emptyUsage('a');
  for (const l of lines) {
    const e = usageOfLine(l, defaultPrices);
    if (!e) continue;
    const r = mergeUsage(totals, seen, [e], 1);
    totals = r.totals;
    for (const u of r.upserts) seen.set(u.messageId, u);
  }
  return totals;
}

describe('usage counting', () => {
  it('reads a Claude Code assistant entry, and nothing from other lines', () => {
    const e = usageOfLine(line('msg_1', { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 }), defaultPrices);
    expect(e).toMatchObject({ messageId: 'msg_1', input: 10, output: 5, cacheRead: 100, cacheCreation: 20 });
    expect(e!.costUsd).toBeCloseTo((10 * 3 + 5 * 15 + 100 * 0.3 + 20 * 3.75) / 1e6, 12);
    expect(usageOfLine(JSON.stringify({ type: 'user', message: { role: 'user', content: 'usage' } }), defaultPrices)).toBeNull();
    expect(usageOfLine('{"type":"assistant","message":{"usage"', defaultPrices)).toBeNull();
    expect(usageOfLine(line('msg_x', { input_tokens: 0, output_tokens: 0 }, '<synthetic>'), defaultPrices)).toBeNull();
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

  it('a Codex cumulative token_count counts as one growing entry per session', () => {
    const tc = (input: number, cached: number, output: number) =>
      JSON.stringify({ type: 'event_msg', payload: { type: 'token_count', info: { total_token_usage: { input_tokens: input, cached_input_tokens: cached, output_tokens: output } } } });
    const seen = new Map<string, UsageEntry>();
    let totals = emptyUsage('a');
    for (const l of [tc(100, 40, 10), tc(100, 40, 10), tc(250, 90, 30)]) {
      const r = mergeUsage(totals, seen, [usageOfLine(l, defaultPrices, 's1')!], 1);
      totals = r.totals;
      for (const u of r.upserts) seen.set(u.messageId, u);
    }
    expect(totals).toMatchObject({ input: 160, cacheRead: 90, output: 30, messages: 1 });
  });

  it('prices by the longest model prefix; unknown models cost nothing', () => {
    expect(priceFor('claude-opus-4-5-20251101', defaultPrices)?.input).toBe(5);
    expect(priceFor('claude-opus-4-1-20250805', defaultPrices)?.input).toBe(15);
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
