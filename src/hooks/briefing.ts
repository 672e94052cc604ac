/**
 * Briefing facts for hook processes, read from hornets.json without zod (which costs ~50 ms to
 * load): hooks only need the agent's role and briefing file, and the CLI has validated the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { BriefingInput } from './compose.js';

export function readBriefing(configPath: string | undefined, agent: string): BriefingInput {
  const fallback: BriefingInput = { agent, project: 'unknown', role: null, briefingFile: null, briefingText: null };
  if (!configPath || !existsSync(configPath)) return fallback;
  try {
    const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as { project?: string; agents?: { name?: string; role?: string; briefing?: string }[] };
    const a = cfg.agents?.find((x) => x.name === agent);
    let text: string | null = null;
    let file: string | null = null;
    if (a?.briefing) {
      file = resolve(dirname(configPath), a.briefing);
      text = existsSync(file) ? readFileSync(file, 'utf8').slice(0, 64 * 1024) : null;
    }
    return { agent, project: cfg.project ?? 'unknown', role: a?.role ?? null, briefingFile: a?.briefing ?? null, briefingText: text };
  } catch {
    return fallback;
  }
}
