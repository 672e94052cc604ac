/** Changing the team in hornets.json (`add`, the console's "new agent"): checks, then an atomic edit. */
import { UsageError } from '../errors.js';
import { loadProject, type Project } from '../config/load.js';
import { updateConfigFile } from '../config/write.js';
import { AGENT_NAME_RE, agentNameRule } from '../config/schema.js';
import type { MessageStore } from '../queue/store.js';

export interface NewAgent {
  name: string;
  profile: string;
  role?: string;
  worktree?: string;
}

/** Throws a UsageError saying what is wrong with the new agent; nothing is written. */
export function checkNewAgent(project: Project, agent: NewAgent): void {
  if (!AGENT_NAME_RE.test(agent.name)) throw new UsageError(`invalid agent name "${agent.name}": ${agentNameRule}`);
  if (project.config.agents.some((a) => a.name === agent.name)) throw new UsageError(`agent "${agent.name}" already exists in ${project.configPath}`);
  if (!project.profiles.has(agent.profile)) throw new UsageError(`unknown profile "${agent.profile}" (available: ${[...project.profiles.keys()].join(', ')})`);
}

/** Appends the agent to hornets.json (validated, atomic, previous file kept as .bak). */
export function appendAgent(configPath: string, agent: NewAgent): void {
  updateConfigFile(configPath, (raw) => {
    const agents = Array.isArray(raw.agents) ? raw.agents : [];
    agents.push({ name: agent.name, profile: agent.profile, ...(agent.role ? { role: agent.role } : {}), ...(agent.worktree ? { worktree: agent.worktree } : {}) });
    raw.agents = agents;
  });
}

/** Check, write, reload: returns the project as it is now, with the new agent registered in the store. */
export async function addAgent(project: Project, store: MessageStore, agent: NewAgent): Promise<Project> {
  checkNewAgent(project, agent);
  appendAgent(project.configPath, agent);
  const next = loadProject({ configPath: project.configPath });
  const cfg = next.config.agents.find((a) => a.name === agent.name)!;
  await store.registerAgents([{ name: cfg.name, profile: cfg.profile, maxDepth: cfg.maxDepth ?? null }]);
  return next;
}
