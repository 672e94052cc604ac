/**
 * Tokens and cost per agent (issue 17), from what the CLI records: Claude Code writes one transcript
 * line per content block of an assistant message, each carrying the message's usage so far; a
 * resumed session copies earlier lines into its new transcript. So usage is counted per model
 * message id: each field keeps the largest figure seen for the message, and only growth is added to
 * the totals (a repeated or copied line adds nothing, a later partial adds what it grew by). Codex
 * and Gemini CLI fit the same rule: each response is one entry under an id the CLI's own lines
 * make stable (see usageOfLine).
 */

export interface TokenCounts {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

/** One model response's usage as the CLI recorded it (possibly a partial of it). */
export interface UsageEntry extends TokenCounts {
  /** Model message id (or request id): the unit counted once. */
  messageId: string;
  model: string | null;
  costUsd: number;
  /** The transcript line's own time (ms), when it states one: read only, never stored. */
  at?: number | null;
  /** The line is a fork's copy of another session's (Claude Code's `forkedFrom`): read only, never stored. */
  copy?: boolean;
}

/**
 * Ids whose figures are a session's running total (Codex's `total_token_usage`): the next figure
 * counts only its growth over the stored one, so these are never pruned (one per session).
 */
export function isCumulativeUsageId(id: string): boolean {
  // `codex:<session>` only: a per-response Codex id (`codex:<session>:<totals>`) is one message.
  return id.startsWith('codex:') && id.indexOf(':', 'codex:'.length) < 0;
}

/**
 * What retention left behind (issue 17): per-message rows last seen before `prunedBefore` are gone,
 * and a read from a transcript's start (a new transcript, which may open with a fork's or a resume's
 * copies of old lines; one replaced or truncated) may meet their ids again. Null: none pruned.
 */
export interface UsageGuard {
  /** The read began at the transcript's first byte. */
  fromStart: boolean;
  prunedBefore: number | null;
}

/**
 * Whether an entry whose id is not stored may be an already counted message whose row was pruned:
 * only in a read from a transcript's start, after a prune, a fork's copy, or a line older than what
 * was pruned (a copy keeps its original time; a line that old was read and counted when it was new).
 */
export function maybePruned(e: UsageEntry, guard: UsageGuard | undefined): boolean {
  if (!guard?.fromStart || guard.prunedBefore === null || isCumulativeUsageId(e.messageId)) return false;
  return e.copy === true || (typeof e.at === 'number' && e.at < guard.prunedBefore);
}

/** An agent's totals as the store keeps them. */
export interface AgentUsage extends TokenCounts {
  agent: string;
  costUsd: number;
  /** Model responses counted. */
  messages: number;
  /** Delivery is paused because the budget was exceeded (the engine set it; resume or a raised budget lifts it). */
  overBudget: boolean;
  /** The budget (budgetKey) the operator resumed the agent over: not enforced again until it changes. */
  waivedBudget: string | null;
  updatedAt: number | null;
}

export const tokenKinds = ['input', 'output', 'cacheRead', 'cacheCreation'] as const;
export type TokenKind = (typeof tokenKinds)[number];

export function emptyUsage(agent: string): AgentUsage {
  return { agent, input: 0, output: 0, cacheRead: 0, cacheCreation: 0, costUsd: 0, messages: 0, overBudget: false, waivedBudget: null, updatedAt: null };
}

export function totalTokens(t: TokenCounts): number {
  return t.input + t.output + t.cacheRead + t.cacheCreation;
}

/**
 * Adds `entries` to `totals` given what was already counted per message id (`seen`): returns the new
 * totals and the per-message figures to store (max per field; every entry met, so its row counts as
 * seen now). Pure: both stores run it in their write.
 */
export function mergeUsage(
  totals: AgentUsage,
  seen: ReadonlyMap<string, UsageEntry>,
  entries: readonly UsageEntry[],
  now: number,
  guard?: UsageGuard,
): { totals: AgentUsage; upserts: UsageEntry[]; skipped: number } {
  const next = { ...totals };
  const changed = new Map<string, UsageEntry>();
  let skipped = 0;
  for (const e of entries) {
    const before = changed.get(e.messageId) ?? seen.get(e.messageId) ?? null;
    // Not counted again: undercounting a copy of usage never this agent's beats counting twice.
    if (before === null && maybePruned(e, guard)) {
      skipped++;
      continue;
    }
    const merged: UsageEntry = {
      messageId: e.messageId,
      model: before?.model ?? e.model,
      input: Math.max(before?.input ?? 0, e.input),
      output: Math.max(before?.output ?? 0, e.output),
      cacheRead: Math.max(before?.cacheRead ?? 0, e.cacheRead),
      cacheCreation: Math.max(before?.cacheCreation ?? 0, e.cacheCreation),
      costUsd: Math.max(before?.costUsd ?? 0, e.costUsd),
    };
    for (const k of tokenKinds) next[k] += merged[k] - (before?.[k] ?? 0);
    next.costUsd += merged.costUsd - (before?.costUsd ?? 0);
    if (before === null) next.messages += 1;
    changed.set(e.messageId, merged);
  }
  if (changed.size > 0) next.updatedAt = now;
  return { totals: next, upserts: [...changed.values()], skipped };
}

// ------------------------------------------------------------------ prices

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/**
 * List prices (USD per million tokens, standard tier, no batch or priority rates), keyed by
 * model-name prefix (see priceFor). LIST PRICES as the vendors published them, last checked
 * 2025-11; they change, and hornets.json `pricing` adds or replaces entries (a project's own
 * contract prices, newer models). Anthropic: cache writes at the 5-minute rate. OpenAI: cached
 * input at the cached-input rate, reasoning tokens as output; no cache-write charge. Google: the
 * rates for prompts up to 200k tokens (longer prompts cost more: not modelled), thinking tokens as
 * output, cached tokens at the context-caching rate (storage not counted).
 */
export const defaultPrices: Readonly<Record<string, ModelPrice>> = {
  // Opus 4.5 and every later 4.x (4-6, 4-7, 4-8: Claude Code 2.1's default) cost a third of the
  // first two, so the family prefix carries the new price and the two old models are named.
  'claude-opus-4': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-0': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-opus-4-20250514': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-opus-4-1': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-3-opus': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-sonnet-4': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-3-7-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-3-5-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 },
  // OpenAI (Codex CLI), list prices 2025-11. `gpt-5` covers gpt-5-codex and dated gpt-5 snapshots.
  'gpt-5': { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 },
  'gpt-5-mini': { input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 },
  'gpt-5-codex-mini': { input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 },
  'gpt-5-nano': { input: 0.05, output: 0.4, cacheRead: 0.005, cacheWrite: 0 },
  'gpt-5.1': { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 },
  'gpt-5.1-codex-mini': { input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 },
  'gpt-5.2': { input: 1.75, output: 14, cacheRead: 0.175, cacheWrite: 0 },
  // Google (Gemini CLI), list prices 2025-11, prompts up to 200k tokens.
  'gemini-2.5-pro': { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5, cacheRead: 0.03, cacheWrite: 0 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cacheRead: 0.01, cacheWrite: 0 },
};

/**
 * A prefix names a model when the model is the prefix or goes on with a separator after it:
 * `gpt-5` prices `gpt-5-codex` and `gpt-5-2025-08-07`, never `gpt-5.4` (another model at another
 * price), and `claude-opus-4` prices `claude-opus-4-1-…`.
 */
function namesModel(model: string, prefix: string): boolean {
  if (!model.startsWith(prefix)) return false;
  if (model.length === prefix.length) return true;
  const next = model[prefix.length]!;
  return !/[0-9A-Za-z.]/.test(next) || /[-_:@/.]$/.test(prefix);
}

export function priceFor(model: string | null, prices: Readonly<Record<string, ModelPrice>>): ModelPrice | null {
  if (model === null) return null;
  let best: string | null = null;
  for (const prefix of Object.keys(prices)) if (namesModel(model, prefix) && (best === null || prefix.length > best.length)) best = prefix;
  return best === null ? null : prices[best]!;
}

/** Cost of one response's tokens; 0 for a model without a price (its tokens still count). */
export function costOf(t: TokenCounts, model: string | null, prices: Readonly<Record<string, ModelPrice>>): number {
  const p = priceFor(model, prices);
  if (!p) return 0;
  return (t.input * p.input + t.output * p.output + t.cacheRead * p.cacheRead + t.cacheCreation * p.cacheWrite) / 1_000_000;
}

// ------------------------------------------------------------------ transcripts

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The model a transcript line sets for the usage lines after it, or null when it sets none: Codex
 * writes the model in each turn's `turn_context` line, not with its token counts.
 */
export function modelOfLine(line: string): string | null {
  if (!line.includes('"turn_context"')) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  return isRecord(v) && v.type === 'turn_context' && isRecord(v.payload) && typeof v.payload.model === 'string' && v.payload.model !== '' ? v.payload.model : null;
}

/** A Gemini CLI chat-recording message with its `tokens` (as 0.61.0 writes them), or null. */
function geminiEntry(m: unknown, prices: Readonly<Record<string, ModelPrice>>): UsageEntry | null {
  if (!isRecord(m) || m.type !== 'gemini' || typeof m.id !== 'string' || !isRecord(m.tokens)) return null;
  const u = m.tokens;
  const model = typeof m.model === 'string' ? m.model : null;
  // `input` is the prompt count, cached tokens included; thinking tokens are billed as output;
  // `tool` is the prompt the model's tool use added.
  const cached = num(u.cached);
  const t = { input: Math.max(0, num(u.input) - cached) + num(u.tool), output: num(u.output) + num(u.thoughts), cacheRead: cached, cacheCreation: 0 };
  return { messageId: `gemini:${m.id}`, model, ...t, costUsd: costOf(t, model, prices) };
}

/**
 * The usage of one transcript line, or none: a list since a Gemini rewrite (`$set` of the message
 * list) can carry several messages. Recognized:
 * - Claude Code: an assistant entry (`message.usage`, keyed by `message.id`, else `requestId`).
 * - Codex: a rollout `event_msg` `token_count`. Its `last_token_usage` is the response's own usage;
 *   the id is the session's cumulative `total_token_usage` after it, the same in a repeated event
 *   and in the lines a resumed session reads again, different for every new response. Codex counts
 *   cached input inside input_tokens and reasoning inside output_tokens, so cached is split out.
 *   `model` is the one the last `turn_context` set (modelOfLine), for the price.
 * - Gemini CLI: a chat-recording message of type `gemini` with `tokens`, keyed by its id; a `$set`
 *   of `messages` repeats messages (a resumed session), their ids keep them from counting twice.
 */
export function usageOfLine(line: string, prices: Readonly<Record<string, ModelPrice>>, session: string | null = null, model: string | null = null): UsageEntry[] {
  // Cheap refusal first: most lines (tool results, user turns) carry no usage.
  if (!line.includes('usage') && !line.includes('"tokens"')) return [];
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return [];
  }
  if (!isRecord(v)) return [];
  if (v.type === 'assistant' && isRecord(v.message) && isRecord(v.message.usage)) {
    const m = v.message;
    const u = m.usage as Record<string, unknown>;
    const id = typeof m.id === 'string' ? m.id : typeof v.requestId === 'string' ? v.requestId : null;
    const model = typeof m.model === 'string' ? m.model : null;
    // Claude Code's own error lines (model "<synthetic>") were never a model response.
    if (id === null || model === '<synthetic>') return [];
    const t = { input: num(u.input_tokens), output: num(u.output_tokens), cacheRead: num(u.cache_read_input_tokens), cacheCreation: num(u.cache_creation_input_tokens) };
    const at = typeof v.timestamp === 'string' ? Date.parse(v.timestamp) : NaN;
    return [{ messageId: id, model, ...t, costUsd: costOf(t, model, prices), at: Number.isFinite(at) ? at : null, copy: isRecord(v.forkedFrom) }];
  }
  if (v.type === 'event_msg' && isRecord(v.payload) && v.payload.type === 'token_count' && isRecord(v.payload.info) && isRecord(v.payload.info.total_token_usage)) {
    const total = v.payload.info.total_token_usage;
    const last = isRecord(v.payload.info.last_token_usage) ? v.payload.info.last_token_usage : null;
    const of = (u: Record<string, unknown>) => {
      const cached = num(u.cached_input_tokens);
      return { input: Math.max(0, num(u.input_tokens) - cached), output: num(u.output_tokens), cacheRead: cached, cacheCreation: 0 };
    };
    const s = session ?? 'session';
    if (last === null) {
      // A Codex that records only the running total: one growing entry per session.
      const t = of(total);
      return [{ messageId: `codex:${s}`, model, ...t, costUsd: costOf(t, model, prices) }];
    }
    const t = of(last);
    if (t.input + t.output + t.cacheRead === 0) return [];
    const id = `codex:${s}:${num(total.input_tokens)}:${num(total.cached_input_tokens)}:${num(total.output_tokens)}`;
    const at = typeof v.timestamp === 'string' ? Date.parse(v.timestamp) : NaN;
    return [{ messageId: id, model, ...t, costUsd: costOf(t, model, prices), at: Number.isFinite(at) ? at : null }];
  }
  if (v.type === 'gemini') {
    const e = geminiEntry(v, prices);
    return e ? [e] : [];
  }
  if (isRecord(v.$set) && Array.isArray(v.$set.messages)) {
    return v.$set.messages.map((m) => geminiEntry(m, prices)).filter((e): e is UsageEntry => e !== null);
  }
  return [];
}

// ------------------------------------------------------------------ budgets

export interface Budget {
  usd?: number;
  tokens?: number;
}

/** A budget as one comparable string: a waiver holds for the budget it was given over only. */
export function budgetKey(b: Budget): string {
  return JSON.stringify({ usd: b.usd ?? null, tokens: b.tokens ?? null });
}

export type BudgetAction = 'none' | 'pause' | 'lift';

export interface BudgetVerdict {
  exceeded: boolean;
  /** What the engine does now: pause delivery, lift its own pause, or nothing. */
  action: BudgetAction;
  reason: string | null;
}

/**
 * The budget policy: an agent whose usage exceeds its budget (either limit) is paused, unless the
 * operator resumed it over this very budget; an agent the policy paused is lifted once it is no
 * longer over (the budget was raised or removed).
 */
export function budgetVerdict(usage: Pick<AgentUsage, 'costUsd' | 'overBudget' | 'waivedBudget'> & TokenCounts, budget: Budget | undefined): BudgetVerdict {
  const reasons: string[] = [];
  if (budget?.usd !== undefined && usage.costUsd > budget.usd) reasons.push(`cost $${usage.costUsd.toFixed(4)} exceeds the budget of $${budget.usd}`);
  if (budget?.tokens !== undefined && totalTokens(usage) > budget.tokens) reasons.push(`${totalTokens(usage)} tokens exceed the budget of ${budget.tokens}`);
  const exceeded = reasons.length > 0;
  const enforced = exceeded && usage.waivedBudget !== budgetKey(budget ?? {});
  const reason = exceeded ? reasons.join('; ') : null;
  if (enforced && !usage.overBudget) return { exceeded, action: 'pause', reason };
  if (!enforced && usage.overBudget) return { exceeded, action: 'lift', reason };
  return { exceeded, action: 'none', reason };
}
