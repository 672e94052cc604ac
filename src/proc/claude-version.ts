/** Asks the installed Claude Code CLI for its version (external-program adapter, like src/git). */
import { execFile } from 'node:child_process';

/** The version DESIGN.md's protocol facts and our end-to-end suite were checked against. */
export const VERIFIED_CLAUDE_VERSION = '2.1.197';

export function claudeVersion(binary = process.env.HORNETS_CLAUDE_BIN || 'claude'): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 15_000 }, (err, stdout) => {
      if (err) return resolve(null);
      const m = /(\d+\.\d+\.\d+)/.exec(String(stdout));
      resolve(m ? m[1]! : null);
    });
  });
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
