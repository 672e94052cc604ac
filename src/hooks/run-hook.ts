/**
 * The hooks of a task worker's one-shot run (issue 14): the same hook settings an interactive agent
 * of the profile gets are installed in the run's worktree, and each hook call of the run appends one
 * line to the run's `hooks.jsonl`. The engine reads that file as it reads the run's other files
 * (src/proc/task-run.ts), so a run reports through hooks without an agent credential or a queue.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HookProtocol } from './protocols.js';

export const RUN_HOOKS_FILE = 'hooks.jsonl';

/** One hook call of a run, as the engine reads it back. */
export interface RunHookCall {
  event: string;
  cli: string;
  at: number;
  session_id: string | null;
  tool_name: string | null;
}

export function recordRunHook(runDir: string, event: string, protocol: HookProtocol, payloadText: string | null): void {
  let payload: Record<string, unknown> = {};
  try {
    const parsed = payloadText ? (JSON.parse(payloadText) as unknown) : null;
    if (parsed && typeof parsed === 'object') payload = parsed as Record<string, unknown>;
  } catch {
    // A payload that is not JSON still counts as a call.
  }
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 200) : null);
  const call: RunHookCall = { event, cli: protocol.cli, at: Date.now(), session_id: str(payload.session_id), tool_name: str(payload.tool_name) };
  try {
    // One short line per call with O_APPEND: concurrent hooks of one run never interleave within a line.
    appendFileSync(join(runDir, RUN_HOOKS_FILE), `${JSON.stringify(call)}\n`, { mode: 0o600 });
  } catch {
    // A hook must never break the run.
  }
}

/** The calls a run's hooks recorded (lines that do not parse are skipped). */
export function parseRunHooks(text: string): RunHookCall[] {
  return text.split('\n').flatMap((l) => {
    try {
      return l.trim() ? [JSON.parse(l) as RunHookCall] : [];
    } catch {
      return [];
    }
  });
}
