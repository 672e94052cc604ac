/** Asks an installed agent CLI with hooks for its version (`codex-cli 0.171.0`, `0.61.0`). */
import { runProgram } from './run.js';
import { compareVersions } from './claude-version.js';

/** Per profile `hooks.kind`: the CLI's package and the version its protocol table and end-to-end suite were checked against. */
export const verifiedCliVersions = {
  codex: { name: 'codex', pkg: '@openai/codex', version: '0.171.0', older: 'its hooks may not fire or trust entries may not match' },
  gemini: { name: 'gemini', pkg: '@google/gemini-cli', version: '0.61.0', older: 'its hook events or reply shapes may differ' },
} as const;

export type VersionedCli = keyof typeof verifiedCliVersions;

export function isVersionedCli(kind: string): kind is VersionedCli {
  return Object.hasOwn(verifiedCliVersions, kind);
}

export async function agentCliVersion(binary: string): Promise<string | null> {
  const stdout = await runProgram(binary, ['--version'], { timeoutMs: 15_000 }).catch(() => null);
  const m = stdout === null ? null : /(\d+\.\d+\.\d+)/.exec(stdout);
  return m ? m[1]! : null;
}

/** One line on what this version means for the hooks. */
export function agentCliSupport(cli: VersionedCli, binary: string, version: string | null): string {
  const v = verifiedCliVersions[cli];
  if (version === null) return `${binary} did not answer --version (not installed?)`;
  if (compareVersions(version, v.version) < 0) return `${v.name} ${version} is older than ${v.version}, the version hornets was verified on; ${v.older}`;
  return `${v.name} ${version}: hooks verified on ${v.version}`;
}
