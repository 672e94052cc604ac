/** "Rebrief now": the same rebrief a compaction triggers, queued at priority 200 (rebrief band). */
import { namedPriorities } from '../domain/priority.js';
import { REBRIEF_SENDER, readActivity, rebriefText } from '../hooks/compose.js';
import { readBriefing } from '../hooks/briefing.js';
import { gitInfo } from '../hooks/git-info.js';
import type { ProjectContext } from './context.js';
import { AgentManager } from './agents.js';

export async function composeRebrief(ctx: ProjectContext, agent: string): Promise<string> {
  const manager = new AgentManager(ctx.project, ctx.store, ctx.log);
  const config = manager.agentConfig(agent);
  const agentContext = await ctx.store.getAgentContext(agent);
  const git = await gitInfo(manager.worktreePath(config)).catch(() => ({ branch: null, status: null }));
  const recent = await ctx.store.list({ agent, states: ['delivered', 'confirmed'], order: 'recent', limit: 3 });
  const activity = readActivity(agentContext?.activitySummary ?? null);
  const text = rebriefText({
    ...readBriefing(ctx.project.configPath, agent),
    reason: 'manual',
    activity,
    lastAssistantMessage: typeof agentContext?.checkpointData?.['lastAssistantMessage'] === 'string' ? (agentContext.checkpointData['lastAssistantMessage'] as string) : null,
    currentTask: recent.reverse(),
    gitBranch: git.branch,
    gitStatus: git.status,
  });
  const r = await ctx.store.enqueue({ agent, body: text, priority: namedPriorities.rebrief, sender: REBRIEF_SENDER });
  await ctx.store.saveAgentContext(agent, { lastBriefing: Date.now(), briefingContent: text });
  await ctx.store.recordEvent({ agent, kind: 'rebrief_queued', detail: { id: r.message.id } });
  return r.message.id;
}
