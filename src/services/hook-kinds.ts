/**
 * What each profile `hooks.kind` installs, as data: the installer functions and the git exclude
 * pattern that keeps the installed files out of the agent's commits. `up`, `hooks install`,
 * `uninstall` and `verify` look the kind up here; a kind not listed gets push delivery only.
 */
import type { Profile } from '../config/schema.js';
import { installHooks, uninstallHooks, verifyHooks, type HookTransport, type InstallResult, type UninstallResult, type VerifyResult } from '../hooks/installer.js';
import { installCodexHooks, uninstallCodexHooks, verifyCodexHooks } from '../hooks/codex-installer.js';
import { installGeminiHooks, uninstallGeminiHooks, verifyGeminiHooks, type GeminiHome } from '../hooks/gemini-installer.js';

export interface HookTarget {
  worktree: string;
  transport: HookTransport;
  /** The agent's CODEX_HOME (where Codex reads its config.toml and our trust entries). */
  codexHome: string;
  /** Where the agent's Gemini CLI reads trustedFolders.json (the worktree's trust entry). */
  geminiHome: GeminiHome;
}

export interface HookKind {
  /** info/exclude pattern of the files we write into the worktree (and their backup); null: none go there. */
  exclude: string | null;
  /**
   * Where the hooks live when agents can share them (Codex: one CODEX_HOME, e.g. ~/.codex, for
   * every agent that does not set its own); null: each agent has its own file (its worktree).
   */
  sharedAt(t: HookTarget): string | null;
  install(t: HookTarget): InstallResult;
  uninstall(t: Omit<HookTarget, 'transport'>): UninstallResult;
  verify(t: HookTarget): VerifyResult;
}

const hookKinds: Partial<Record<Profile['hooks']['kind'], HookKind>> = {
  'claude-code': {
    exclude: '/.claude/settings.local.json*',
    sharedAt: () => null,
    install: (t) => installHooks(t.worktree, t.transport),
    uninstall: (t) => uninstallHooks(t.worktree),
    verify: (t) => verifyHooks(t.worktree, t.transport),
  },
  // In CODEX_HOME, not the worktree: see codex-installer.ts for why.
  codex: {
    exclude: null,
    sharedAt: (t) => t.codexHome,
    install: (t) => installCodexHooks(t.codexHome, t.transport),
    uninstall: (t) => uninstallCodexHooks(t.codexHome),
    verify: (t) => verifyCodexHooks(t.codexHome, t.transport),
  },
  // Project settings in the worktree (Gemini 0.61.0 reads them there), trusted in the agent's trustedFolders.json.
  gemini: {
    exclude: '/.gemini/settings.json*',
    // Each agent's own settings file; its trust entry (in a file agents may share) is its own line.
    sharedAt: () => null,
    install: (t) => installGeminiHooks(t.worktree, t.geminiHome, t.transport),
    uninstall: (t) => uninstallGeminiHooks(t.worktree, t.geminiHome),
    verify: (t) => verifyGeminiHooks(t.worktree, t.geminiHome, t.transport),
  },
};

/**
 * A push-only profile of another CLI gets no hook files: Codex's would also need trust entries
 * written into the user's CODEX_HOME, and Gemini's a trust entry, for hooks they do not use. Claude Code's are installed
 * whatever the delivery, as they always were (they also report its state).
 */
export function hookKind(profile: Profile): HookKind | null {
  if (profile.delivery === 'push' && profile.hooks.kind !== 'claude-code') return null;
  return hookKinds[profile.hooks.kind] ?? null;
}

/**
 * The installer of a hook kind whatever the delivery: a task worker's one-shot runs take no
 * messages (push or pull) but report through the profile's hooks.
 */
export function hookKindFor(kind: Profile['hooks']['kind']): HookKind | null {
  return hookKinds[kind] ?? null;
}
