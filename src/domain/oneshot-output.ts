import { claudeRunTokens, codexRunTokens, geminiRunTokens, type RunTokens } from './run-usage.js';

/**
 * What a one-shot run printed, read the way its profile says: `claude-json` is the one JSON object
 * of `claude -p --output-format json` (result, is_error, usage, total_cost_usd); `codex-jsonl` the
 * event lines of `codex exec --json` (the last agent_message, turn.completed's usage, turn.failed);
 * `gemini-json` the object of `gemini --output-format json` (response, stats, error); `text` takes
 * all of stdout as the final text.
 */
export type OneShotOutputKind = 'claude-json' | 'codex-jsonl' | 'gemini-json' | 'text';

export interface OneShotOutput {
  /** The agent's final text, or null when there is none. */
  text: string | null;
  isError: boolean;
  /** The usage as the CLI printed it (Gemini's: its per-model token stats summed). */
  usage: Record<string, unknown> | null;
  /** That usage normalised to the four token kinds (run-usage.ts), or null when it printed none. */
  tokens: RunTokens | null;
  /** The cost the CLI stated, or null. */
  costUsd: number | null;
  /** The output could not be read as the profile says (e.g. not JSON): why. */
  malformed: string | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The last line of stdout that is a JSON object (CLIs may print warnings before it). */
function lastJsonObject(stdout: string): Record<string, unknown> | null {
  const whole = stdout.trim();
  const candidates = [whole, ...whole.split('\n').reverse()];
  for (const c of candidates) {
    const t = c.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v: unknown = JSON.parse(t);
      if (isRecord(v)) return v;
    } catch {
      // Not this one.
    }
  }
  return null;
}

/** The JSON object that ends stdout, printed on one line or over several (warnings may come first). */
function trailingJsonObject(stdout: string): Record<string, unknown> | null {
  const one = lastJsonObject(stdout);
  if (one) return one;
  const lines = stdout.trimEnd().split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('{')) continue;
    try {
      const v: unknown = JSON.parse(lines.slice(i).join('\n'));
      if (isRecord(v)) return v;
    } catch {
      // Not from here.
    }
  }
  return null;
}

function notJson(stdout: string, what: string): OneShotOutput {
  const shown = stdout.trim().slice(0, 200);
  return {
    text: null,
    isError: true,
    usage: null,
    tokens: null,
    costUsd: null,
    malformed: shown === '' ? `it printed nothing (expected ${what})` : `its output is not ${what}: ${JSON.stringify(shown)}`,
  };
}

function errorText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (isRecord(e) && typeof e.message === 'string') return e.message;
  return JSON.stringify(e);
}

function parseCodexEvents(stdout: string): OneShotOutput {
  let text: string | null = null;
  let usage: Record<string, unknown> | null = null;
  let failure: string | null = null;
  let events = 0;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let ev: unknown;
    try {
      ev = JSON.parse(t);
    } catch {
      continue;
    }
    if (!isRecord(ev) || typeof ev.type !== 'string') continue;
    events++;
    const item = isRecord(ev.item) ? ev.item : null;
    if (ev.type === 'item.completed' && item?.type === 'agent_message' && typeof item.text === 'string') text = item.text;
    else if (ev.type === 'turn.completed' && isRecord(ev.usage)) usage = ev.usage;
    else if (ev.type === 'turn.failed') failure = errorText(ev.error);
    // A top-level error event ends the run (an `error` item is only a warning, e.g. unknown model metadata).
    else if (ev.type === 'error') failure ??= errorText(ev.message ?? ev);
  }
  if (events === 0) return notJson(stdout, 'codex exec --json events');
  return { text: failure !== null && text === null ? failure : text, isError: failure !== null, usage, tokens: usage ? codexRunTokens(usage) : null, costUsd: null, malformed: null };
}

function parseGeminiJson(stdout: string): OneShotOutput {
  const obj = trailingJsonObject(stdout);
  if (!obj) return notJson(stdout, 'a JSON result');
  const failed = obj.error !== undefined && obj.error !== null;
  // Tokens of every model the run used, summed: stats.models.<model>.tokens.
  let usage: Record<string, unknown> | null = null;
  const models = isRecord(obj.stats) && isRecord(obj.stats.models) ? Object.values(obj.stats.models) : [];
  for (const m of models) {
    const tok = isRecord(m) && isRecord(m.tokens) ? m.tokens : null;
    if (!tok) continue;
    const u = (usage ??= { input_tokens: 0, output_tokens: 0, cached_tokens: 0, total_tokens: 0 }) as Record<string, number>;
    const n = (k: string) => (typeof tok[k] === 'number' ? tok[k] : 0);
    u.input_tokens! += n('prompt');
    u.output_tokens! += n('candidates');
    u.cached_tokens! += n('cached');
    u.total_tokens! += n('total');
  }
  const text = typeof obj.response === 'string' ? obj.response : failed ? errorText(obj.error) : null;
  return { text, isError: failed, usage, tokens: geminiRunTokens(obj.stats), costUsd: null, malformed: null };
}

export function parseOneShotOutput(kind: OneShotOutputKind, stdout: string): OneShotOutput {
  switch (kind) {
    case 'text': {
      const text = stdout.trim();
      return { text: text === '' ? null : text, isError: false, usage: null, tokens: null, costUsd: null, malformed: null };
    }
    case 'codex-jsonl':
      return parseCodexEvents(stdout);
    case 'gemini-json':
      return parseGeminiJson(stdout);
    case 'claude-json': {
      const obj = lastJsonObject(stdout);
      if (!obj) return notJson(stdout, 'a JSON result');
      const text = typeof obj.result === 'string' ? obj.result : null;
      const isError = obj.is_error === true || (typeof obj.subtype === 'string' && obj.subtype !== 'success');
      const cost = typeof obj.total_cost_usd === 'number' ? obj.total_cost_usd : typeof obj.cost_usd === 'number' ? obj.cost_usd : null;
      return { text, isError, usage: isRecord(obj.usage) ? obj.usage : null, tokens: claudeRunTokens(obj), costUsd: cost, malformed: null };
    }
  }
}
