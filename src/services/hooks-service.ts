/** hooks install / uninstall / verify across agents' worktrees. */
import { existsSync } from 'node:fs';
import { hookProgram } from './hooks-program.js';
import type { AgentConfig, Profile } from '../config/schema.js';
import type { InstallResult, UninstallResult, VerifyResult } from '../hooks/installer.js';
import type { AgentManager } from './agents.js';
import { hookKind, type HookKind } from './hook-kinds.js';

export { hookProgram };

export interface AgentHookReport<T> {
  agent: string;
  profile: string;
  worktree: string;
  result: T | null;
  note: string | null;
}

export class HooksService {
  constructor(private readonly agents: AgentManager) {}

  private targets(names: string[] | 'all'): AgentConfig[] {
    return names === 'all' ? this.agents.project.config.agents : names.map((n) => this.agents.agentConfig(n));
  }

  supports(profile: Profile): boolean {
    return hookKind(profile) !== null;
  }

  private each<T>(names: string[] | 'all', fn: (kind: HookKind, agent: AgentConfig) => T): AgentHookReport<T>[] {
    return this.targets(names).map((a) => {
      const profile = this.agents.profile(a);
      const worktree = this.agents.worktreePath(a);
      const kind = hookKind(profile);
      if (!kind) {
        const note =
          profile.hooks.kind === 'none'
            ? 'profile has no hooks (push delivery)'
            : profile.delivery === 'push'
              ? `${profile.hooks.kind} hooks are not used by push delivery`
              : `${profile.hooks.kind} hooks are not installed by this version (push delivery is used)`;
        return { agent: a.name, profile: profile.name, worktree, result: null, note };
      }
      if (!existsSync(worktree)) return { agent: a.name, profile: profile.name, worktree, result: null, note: 'worktree does not exist yet (run `hornets-tui up`)' };
      return { agent: a.name, profile: profile.name, worktree, result: fn(kind, a), note: null };
    });
  }

  install(names: string[] | 'all'): AgentHookReport<InstallResult>[] {
    return this.each(names, (k, a) => k.install(this.agents.hookTarget(a)));
  }

  /**
   * Hooks several agents share (one CODEX_HOME) stay while an agent not being uninstalled still
   * uses them: uninstalling one agent must not take delivery away from the others.
   */
  uninstall(names: string[] | 'all'): AgentHookReport<UninstallResult>[] {
    const leaving = new Set(this.targets(names).map((a) => a.name));
    const users = new Map<string, string[]>();
    for (const a of this.agents.project.config.agents) {
      const kind = hookKind(this.agents.profile(a));
      const at = kind?.sharedAt(this.agents.hookTarget(a));
      if (at) users.set(at, [...(users.get(at) ?? []), a.name]);
    }
    return this.targets(names).map((a) => {
      const kind = hookKind(this.agents.profile(a));
      const at = kind?.sharedAt(this.agents.hookTarget(a));
      const staying = at ? (users.get(at) ?? []).filter((n) => !leaving.has(n)) : [];
      if (at && staying.length > 0) {
        return {
          agent: a.name,
          profile: this.agents.profile(a).name,
          worktree: this.agents.worktreePath(a),
          result: null,
          note: `kept: its hooks in ${at} are shared with ${staying.join(', ')} (uninstall those too, or --all)`,
        };
      }
      return this.each([a.name], (k, x) => k.uninstall(this.agents.hookTarget(x)))[0]!;
    });
  }

  verify(names: string[] | 'all'): AgentHookReport<VerifyResult>[] {
    return this.each(names, (k, a) => k.verify(this.agents.hookTarget(a)));
  }
}
