/**
 * The 0600 files that carry an agent's environment (API keys, its hook credential) to its pane:
 * the pane's launcher sources and removes its own at once. One is left only when its pane never
 * ran, e.g. `up` killed between writing it and tmux making the window: `up` removes those.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The name createExclusiveTemp gives `<run>/agent-env`. */
export const ENV_FILE_RE = /^\.agent-env\.[0-9a-f]+\.tmp$/;

/** Older than any pane takes to start (a window held at its start gate waits seconds, not minutes). */
export const STALE_ENV_FILE_MS = 10 * 60_000;

/** Removes the agent env files in `runDir` older than `maxAgeMs`; returns their names. */
export function sweepStaleEnvFiles(runDir: string, now: number, maxAgeMs = STALE_ENV_FILE_MS): string[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!ENV_FILE_RE.test(name)) continue;
    const file = join(runDir, name);
    try {
      const st = statSync(file);
      if (!st.isFile() || now - st.mtimeMs < maxAgeMs) continue;
      rmSync(file, { force: true });
      removed.push(name);
    } catch {
      // Gone meanwhile (its launcher took it): nothing to do.
    }
  }
  return removed;
}
