/** Asks the installed Claude Code CLI for its version. */
import { programPath, runProgram } from './run.js';

/** The version DESIGN.md's protocol facts and our end-to-end suite were checked against. */
export const VERIFIED_CLAUDE_VERSION = '2.1.197';

export async function claudeVersion(binary = programPath('claude', 'HORNETS_CLAUDE_BIN')): Promise<string | null> {
  const stdout = await runProgram(binary, ['--version'], { timeoutMs: 15_000 }).catch(() => null);
  const m = stdout === null ? null : /(\d+\.\d+\.\d+)/.exec(stdout);
  return m ? m[1]! : null;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
