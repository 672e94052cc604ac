/**
 * Tokens and cost per task (issue 17): each one-shot run (attempt) of a task worker reports its
 * usage as its CLI prints it, in that CLI's own shape; these pure functions turn each shape into
 * the four token kinds of usage.ts, and a run's cost is the CLI's own figure when it states one
 * (claude -p's total_cost_usd), else priced from the model with the price table. A task's totals
 * are summed over its recorded attempts once per run id, so a retried task counts every run and a
 * run whose end is read twice counts once.
 */
import { costOf, type ModelPrice, type TokenCounts } from './usage.js';

/** Where a run's cost came from: the CLI said it, the price table gave it, or neither could. */
export type CostSource = 'cli' | 'priced' | 'none';

export interface RunUsage extends TokenCounts {
  costUsd: number;
  costSource: CostSource;
  /** The model the tokens were priced by (the CLI's name for it), or null when the output names none. */
  model: string | null;
}

/** A task's usage over its runs (`runs`: the attempts that reported usage). */
export interface TaskUsage extends TokenCounts {
  costUsd: number;
  runs: number;
}

/** What a CLI's output says of its tokens, normalised (model: the one it names, if any). */
export interface RunTokens {
  tokens: TokenCounts;
  model: string | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/** "claude-opus-4-8[1m]" -> "claude-opus-4-8": Claude Code marks the context-window variant in brackets. */
function modelName(key: string): string {
  return key.replace(/\[[^\]]*\]$/, '');
}

/**
 * claude -p --output-format json: `modelUsage` (per model, side calls such as titles included) when
 * present, else `usage` (the main loop's). The model named is the one with the most tokens.
 */
export function claudeRunTokens(result: Record<string, unknown>): RunTokens | null {
  if (isRecord(result.modelUsage) && Object.keys(result.modelUsage).length > 0) {
    const tokens: TokenCounts = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
    let model: string | null = null;
    let most = -1;
    for (const [key, m] of Object.entries(result.modelUsage)) {
      if (!isRecord(m)) continue;
      const t = { input: num(m.inputTokens), output: num(m.outputTokens), cacheRead: num(m.cacheReadInputTokens), cacheCreation: num(m.cacheCreationInputTokens) };
      tokens.input += t.input;
      tokens.output += t.output;
      tokens.cacheRead += t.cacheRead;
      tokens.cacheCreation += t.cacheCreation;
      const n = t.input + t.output + t.cacheRead + t.cacheCreation;
      if (n > most) {
        most = n;
        model = modelName(key);
      }
    }
    return { tokens, model };
  }
  if (!isRecord(result.usage)) return null;
  const u = result.usage;
  return {
    tokens: { input: num(u.input_tokens), output: num(u.output_tokens), cacheRead: num(u.cache_read_input_tokens), cacheCreation: num(u.cache_creation_input_tokens) },
    model: typeof result.model === 'string' ? modelName(result.model) : null,
  };
}

/**
 * codex exec --json, turn.completed's `usage`: Codex counts cached input inside input_tokens (as
 * OpenAI does), so it is split out; reasoning tokens are already inside output_tokens.
 */
export function codexRunTokens(usage: Record<string, unknown>): RunTokens {
  const cached = num(usage.cached_input_tokens);
  return { tokens: { input: Math.max(0, num(usage.input_tokens) - cached), output: num(usage.output_tokens), cacheRead: cached, cacheCreation: 0 }, model: null };
}

/**
 * gemini --output-format json, `stats.models.<model>.tokens`, summed over the models: `prompt`
 * includes the cached tokens (split out), `thoughts` are billed as output. The model named is the
 * one with the most tokens.
 */
export function geminiRunTokens(stats: unknown): RunTokens | null {
  const models = isRecord(stats) && isRecord(stats.models) ? Object.entries(stats.models) : [];
  const tokens: TokenCounts = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
  let model: string | null = null;
  let most = -1;
  let any = false;
  for (const [name, m] of models) {
    const tok = isRecord(m) && isRecord(m.tokens) ? m.tokens : null;
    if (!tok) continue;
    any = true;
    const cached = num(tok.cached);
    const t = { input: Math.max(0, num(tok.prompt) - cached), output: num(tok.candidates) + num(tok.thoughts), cacheRead: cached };
    tokens.input += t.input;
    tokens.output += t.output;
    tokens.cacheRead += t.cacheRead;
    const n = t.input + t.output + t.cacheRead;
    if (n > most) {
      most = n;
      model = name;
    }
  }
  return any ? { tokens, model } : null;
}

/**
 * The model a CLI's argv asks for (`-m X`, `--model X`, `--model=X`: Claude Code, Codex and Gemini
 * CLI all take these), so a run whose output names no model (Codex's) can still be priced.
 */
export function modelOfArgv(argv: readonly string[]): string | null {
  let model: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if ((a === '-m' || a === '--model') && i + 1 < argv.length) model = argv[++i]!;
    else if (a.startsWith('--model=')) model = a.slice('--model='.length);
  }
  return model === '' ? null : model;
}

/**
 * A run's usage: its tokens, and its cost as the CLI stated it, else priced from its model (a model
 * the price table does not know costs 0: `none`). Null when the output carries no usage at all.
 */
export function runUsageOf(out: { tokens: RunTokens | null; costUsd: number | null }, prices: Readonly<Record<string, ModelPrice>>, fallbackModel: string | null = null): RunUsage | null {
  if (out.tokens === null && out.costUsd === null) return null;
  const tokens = out.tokens?.tokens ?? { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
  const model = out.tokens?.model ?? fallbackModel;
  if (out.costUsd !== null && Number.isFinite(out.costUsd) && out.costUsd >= 0) return { ...tokens, costUsd: out.costUsd, costSource: 'cli', model };
  const priced = costOf(tokens, model, prices);
  return { ...tokens, costUsd: priced, costSource: priced > 0 ? 'priced' : 'none', model };
}

export function emptyTaskUsage(): TaskUsage {
  return { input: 0, output: 0, cacheRead: 0, cacheCreation: 0, costUsd: 0, runs: 0 };
}

/** A task's totals from its recorded attempts: every run counted, each run id once. */
export function taskUsageOf(history: readonly { runId: string; usage?: RunUsage | null }[]): TaskUsage {
  const total = emptyTaskUsage();
  const seen = new Set<string>();
  for (const a of history) {
    if (!a.usage || seen.has(a.runId)) continue;
    seen.add(a.runId);
    total.input += a.usage.input;
    total.output += a.usage.output;
    total.cacheRead += a.usage.cacheRead;
    total.cacheCreation += a.usage.cacheCreation;
    total.costUsd += a.usage.costUsd;
    total.runs += 1;
  }
  return total;
}
