/** Asks an installed Codex CLI for its version (`codex-cli 0.171.0`). */
import { runProgram } from './run.js';
import { compareVersions } from './claude-version.js';

/** The version the Codex hook protocol table and its end-to-end suite were checked against. */
export const VERIFIED_CODEX_VERSION = '0.171.0';

export async function codexVersion(binary: string): Promise<string | null> {
  const stdout = await runProgram(binary, ['--version'], { timeoutMs: 15_000 }).catch(() => null);
  const m = stdout === null ? null : /(\d+\.\d+\.\d+)/.exec(stdout);
  return m ? m[1]! : null;
}

/** One line on what this version means for the hooks. */
export function codexSupport(binary: string, version: string | null): string {
  if (version === null) return `${binary} did not answer --version (not installed?)`;
  if (compareVersions(version, VERIFIED_CODEX_VERSION) < 0) {
    return `codex ${version} is older than ${VERIFIED_CODEX_VERSION}, the version hornets was verified on; its hooks may not fire or trust entries may not match`;
  }
  return `codex ${version}: hooks verified on ${VERIFIED_CODEX_VERSION}`;
}
