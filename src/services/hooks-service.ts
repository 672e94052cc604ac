/** hooks install / uninstall / verify across agents' worktrees. */
import { existsSync } from 'node:fs';
import { hookProgram } from './hooks-program.js';
import type { AgentConfig, Profile } from '../config/schema.js';
import { installHooks, uninstallHooks, verifyHooks, type InstallResult, type UninstallResult, type VerifyResult } from '../hooks/installer.js';
import type { AgentManager } from './agents.js';

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
    return profile.hooks.kind === 'claude-code';
  }

  private each<T>(names: string[] | 'all', fn: (worktree: string, agent: AgentConfig) => T): AgentHookReport<T>[] {
    return this.targets(names).map((a) => {
      const profile = this.agents.profile(a);
      const worktree = this.agents.worktreePath(a);
      if (!this.supports(profile)) {
        const note = profile.hooks.kind === 'none' ? 'profile has no hooks (push delivery)' : `${profile.hooks.kind} hooks are not installed by this version (push delivery is used)`;
        return { agent: a.name, profile: profile.name, worktree, result: null, note };
      }
      if (!existsSync(worktree)) return { agent: a.name, profile: profile.name, worktree, result: null, note: 'worktree does not exist yet (run `hornets-tui up`)' };
      return { agent: a.name, profile: profile.name, worktree, result: fn(worktree, a), note: null };
    });
  }

  install(names: string[] | 'all'): AgentHookReport<InstallResult>[] {
    return this.each(names, (w) => installHooks(w, this.agents.hookTransport()));
  }

  uninstall(names: string[] | 'all'): AgentHookReport<UninstallResult>[] {
    return this.each(names, (w) => uninstallHooks(w));
  }

  verify(names: string[] | 'all'): AgentHookReport<VerifyResult>[] {
    return this.each(names, (w) => verifyHooks(w, this.agents.hookTransport()));
  }
}
