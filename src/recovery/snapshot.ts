/**
 * The context snapshot taken before a restart (PreCompact takes its own through the hook): what the
 * agent was handed and had not confirmed, its branch and changes, so the rebrief at
 * SessionStart(resume) can say where it was even when the conversation cannot be resumed.
 */
import type { MessageStore } from '../queue/store.js';
import type { AgentManager } from '../services/agents.js';
import { gitInfo } from '../hooks/git-info.js';

export async function snapshotBeforeRestart(store: MessageStore, agents: AgentManager, agent: string, now: number): Promise<void> {
  const ctx = await store.getAgentContext(agent);
  const inFlight = await store.list({ agent, states: ['delivered', 'leased'], limit: 20 });
  const git = await gitInfo(agents.worktreePath(agents.agentConfig(agent))).catch(() => ({ branch: null, status: null }));
  await store.saveAgentContext(agent, {
    checkpointData: { ...(ctx?.checkpointData ?? {}), snapshotAt: now, trigger: 'restart', inFlight: inFlight.map((m) => m.id), gitBranch: git.branch, gitStatus: git.status },
  });
}
