/**
 * What a one-shot run printed, read the way its profile says: `claude-json` is the one JSON object
 * of `claude -p --output-format json` (result, is_error, usage, total_cost_usd); `text` takes all of
 * stdout as the final text.
 */
export type OneShotOutputKind = 'claude-json' | 'text';

export interface OneShotOutput {
  /** The agent's final text, or null when there is none. */
  text: string | null;
  isError: boolean;
  usage: Record<string, unknown> | null;
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

export function parseOneShotOutput(kind: OneShotOutputKind, stdout: string): OneShotOutput {
  switch (kind) {
    case 'text': {
      const text = stdout.trim();
      return { text: text === '' ? null : text, isError: false, usage: null, costUsd: null, malformed: null };
    }
    case 'claude-json': {
      const obj = lastJsonObject(stdout);
      if (!obj) {
        const shown = stdout.trim().slice(0, 200);
        return {
          text: null,
          isError: true,
          usage: null,
          costUsd: null,
          malformed: shown === '' ? 'it printed nothing (expected a JSON result)' : `its output is not a JSON result: ${JSON.stringify(shown)}`,
        };
      }
      const text = typeof obj.result === 'string' ? obj.result : null;
      const isError = obj.is_error === true || (typeof obj.subtype === 'string' && obj.subtype !== 'success');
      const cost = typeof obj.total_cost_usd === 'number' ? obj.total_cost_usd : typeof obj.cost_usd === 'number' ? obj.cost_usd : null;
      return { text, isError, usage: isRecord(obj.usage) ? obj.usage : null, costUsd: cost, malformed: null };
    }
  }
}
