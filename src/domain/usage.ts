/**
 * Tokens and cost per agent (issue 17), from what the CLI records: Claude Code writes one transcript
 * line per content block of an assistant message, each carrying the message's usage so far; a
 * resumed session copies earlier lines into its new transcript. So usage is counted per model
 * message id: each field keeps the largest figure seen for the message, and only growth is added to
 * the totals (a repeated or copied line adds nothing, a later partial adds what it grew by). A
 * cumulative counter (Codex's session `total_token_usage`) fits the same rule under one id.
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
  return id.startsWith('codex:');
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
 * Anthropic's list prices (USD per million tokens; cache writes at the 5-minute rate), keyed by
 * model-name prefix: the longest matching prefix wins. hornets.json `pricing` adds or replaces entries.
 */
export const defaultPrices: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-3-opus': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-sonnet-4': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-3-7-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-3-5-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 },
};

export function priceFor(model: string | null, prices: Readonly<Record<string, ModelPrice>>): ModelPrice | null {
  if (model === null) return null;
  let best: string | null = null;
  for (const prefix of Object.keys(prices)) if (model.startsWith(prefix) && (best === null || prefix.length > best.length)) best = prefix;
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
 * The usage of one transcript line, or null when it carries none: a Claude Code assistant entry
 * (`message.usage`, keyed by `message.id`, else `requestId`), or a Codex rollout `token_count` event
 * (the session's cumulative `total_token_usage`, keyed by `session`; Codex counts cached input inside
 * input_tokens, so it is split out here).
 */
export function usageOfLine(line: string, prices: Readonly<Record<string, ModelPrice>>, session: string | null = null): UsageEntry | null {
  // Cheap refusal first: most lines (tool results, user turns) carry no usage.
  if (!line.includes('usage')) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(v)) return null;
  if (v.type === 'assistant' && isRecord(v.message) && isRecord(v.message.usage)) {
    const m = v.message;
    const u = m.usage as Record<string, unknown>;
    const id = typeof m.id === 'string' ? m.id : typeof v.requestId === 'string' ? v.requestId : null;
    const model = typeof m.model === 'string' ? m.model : null;
    // Claude Code's own error lines (model "<synthetic>") were never a model response.
    if (id === null || model === '<synthetic>') return null;
    const t = { input: num(u.input_tokens), output: num(u.output_tokens), cacheRead: num(u.cache_read_input_tokens), cacheCreation: num(u.cache_creation_input_tokens) };
    const at = typeof v.timestamp === 'string' ? Date.parse(v.timestamp) : NaN;
    return { messageId: id, model, ...t, costUsd: costOf(t, model, prices), at: Number.isFinite(at) ? at : null, copy: isRecord(v.forkedFrom) };
  }
  if (v.type === 'event_msg' && isRecord(v.payload) && v.payload.type === 'token_count' && isRecord(v.payload.info) && isRecord(v.payload.info.total_token_usage)) {
    const u = v.payload.info.total_token_usage;
    const cached = num(u.cached_input_tokens);
    const t = { input: Math.max(0, num(u.input_tokens) - cached), output: num(u.output_tokens), cacheRead: cached, cacheCreation: 0 };
    return { messageId: `codex:${session ?? 'session'}`, model: null, ...t, costUsd: 0 };
  }
  return null;
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
